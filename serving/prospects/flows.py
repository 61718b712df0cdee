"""Prospects react to contact: `last_contacted_at` follows the latest email sent to them or call logged with them."""

from __future__ import annotations

from sqlalchemy import func, update
from sqlalchemy.orm import Session

from serving.core.outbox import Event, Subscriber
from serving.prospects.models import Prospect


def on_contact(*, db_session: Session, event: Event) -> None:
    prospect_id = event.payload.get("prospectId")
    if prospect_id:
        # greatest(): an older send or call delivered (or logged) late never moves the date back.
        db_session.execute(
            update(Prospect).where(Prospect.id == prospect_id)
            .values(last_contacted_at=func.greatest(func.coalesce(Prospect.last_contacted_at, event.occurred_at),
                                                    event.occurred_at))
        )


SUBSCRIBERS = [Subscriber("prospects.last_contacted", frozenset({"email.sent", "call.logged"}), on_contact)]

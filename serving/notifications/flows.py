"""In-app notifications as a subscriber: today the lead-score threshold crossing, for the prospect's owner.

Delivery channels and per-user preferences come with the notifications issue; they subscribe here too.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from serving.core.outbox import Event, Subscriber
from serving.notifications.models import Notification, NotificationPriority
from serving.users.models import User


def on_score_threshold_crossed(*, db_session: Session, event: Event) -> None:
    p = event.payload
    owner = p.get("ownerId")
    if not owner or db_session.get(User, uuid.UUID(owner)) is None:
        return
    previous = p.get("previousScore")
    top = (p.get("topFactors") or [{}])[0].get("text")
    body = (f"Crossed your team's threshold of {p['threshold']}"
            + (f" (was {previous})." if previous is not None else " (first score).")
            + (f" Top factor: {top}." if top else ""))
    db_session.add(Notification(
        organization_id=event.organization_id, user_id=uuid.UUID(owner), type=event.type,
        title=f"{p.get('displayName') or 'A prospect'} reached a lead score of {p['score']}", body=body,
        data={"prospectId": p["prospectId"], "score": p["score"], "previousScore": previous,
              "threshold": p["threshold"], "tier": p.get("tier"), "modelVersion": p.get("modelVersion"),
              "topFactors": p.get("topFactors") or [], "eventId": str(event.id)},
        priority=NotificationPriority.high,
    ))


SUBSCRIBERS = [
    Subscriber("notifications.score_threshold", frozenset({"lead.score_threshold_crossed"}),
               on_score_threshold_crossed),
]

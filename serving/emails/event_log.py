"""What an email's events leave behind: the `email_tracking_events` row (our API), the `raw.email_events`
row (the data platform) and the domain event that the timeline, cadences and others subscribe to."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from serving.core import outbox, raw_landing
from serving.core.event_catalogue import EmailEvent
from serving.emails.models import Email, EmailTrackingEvent


def record_event(
    *,
    db_session: Session,
    email: Email,
    event: str,
    occurred_at: datetime,
    source: str,
    event_key: str | None = None,
    recipient: str | None = None,
    url: str | None = None,
    reason: str | None = None,
    details: dict | None = None,
    useragent: str | None = None,
    ip: str | None = None,
    bounce_type: str | None = None,
    land_raw: bool = True,
) -> bool:
    """Store an event for the API (`email_tracking_events`) and, for our own events, in
    `raw.email_events` for the data platform. False when the event key was seen before."""
    event_key = event_key or f"revorc:{uuid.uuid4()}"
    inserted = db_session.execute(
        insert(EmailTrackingEvent)
        .values(
            id=uuid.uuid4(),
            organization_id=email.organization_id,
            email_id=email.id,
            event=event,
            event_key=event_key,
            recipient=recipient,
            url=url,
            source=source,
            details={
                k: v
                for k, v in {
                    **(details or {}),
                    "reason": reason,
                    "useragent": useragent,
                    "bounceType": bounce_type,
                }.items()
                if v is not None
            },
            occurred_at=occurred_at,
        )
        .on_conflict_do_nothing(index_elements=[EmailTrackingEvent.event_key])
        .returning(EmailTrackingEvent.id)
    ).first()
    if inserted is None:
        return False
    if land_raw:
        payload = {
            "event": event,
            "email": recipient,
            "timestamp": int(occurred_at.timestamp()),
            "sg_event_id": event_key,
            "revorc_email_id": str(email.id),
            "url": url,
            "reason": reason,
            **(details or {}),
        }
        raw_landing.insert_rows(db_session, "raw.email_events", raw_landing.EMAIL_EVENT_COLUMNS, [{
            "organization_id": email.organization_id,
            "sg_event_id": event_key,
            "sg_message_id": email.sendgrid_message_id,
            "event": event,
            "email": recipient,
            "occurred_at": occurred_at,
            "email_id": email.id,
            "prospect_id": email.prospect_id,
            "campaign_id": email.campaign_id,
            "cadence_id": email.cadence_id,
            "template_id": email.template_id,
            "url": url,
            "reason": reason,
            "status": None,
            "bounce_type": bounce_type,
            "useragent": useragent,
            "ip": ip,
            "payload": json.dumps(payload, default=str),
        }], source=source, request_id=None)
    return True


def publish(
    db_session: Session,
    email: Email,
    type: str,
    when: datetime,
    *,
    first: bool = True,
    detail: dict[str, Any] | None = None,
) -> None:
    """Publish one of the email's life events (`email.sent`, `email.opened` …) in the caller's transaction.

    What follows from it — the timeline entry, pausing cadences, the prospect's last-contacted date, webhooks —
    is each a subscriber's business (see `serving/subscribers.py`), not this domain's.
    """
    outbox.publish(
        db_session, organization_id=email.organization_id, type=type, subject_id=email.id, occurred_at=when,
        payload=EmailEvent(
            email_id=email.id, prospect_id=email.prospect_id, deal_id=email.deal_id, user_id=email.user_id,
            team_id=email.team_id, cadence_id=email.cadence_id, enrollment_id=email.enrollment_id,
            subject=email.subject, to_email=email.to[0]["email"] if email.to else None, first=first,
            detail={k: v for k, v in (detail or {}).items() if v is not None},
        ),
    )

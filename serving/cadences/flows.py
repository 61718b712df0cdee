"""Cadences react to engagement: a reply, an unsubscribe, a suppressing bounce or a booked meeting stops the
prospect's active enrollments. The cadence domain owns its table; the email domain only publishes what happened.

A step that comes due before the event is delivered is still held back: `run_step` checks the enrollment's
own replies and the suppression list before it sends.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from serving.cadences import service
from serving.core.outbox import Event, Subscriber


def _reason(event: Event) -> str | None:
    if event.type == "email.replied":
        return "replied"
    if event.type == "email.unsubscribed":
        return "unsubscribed"
    if event.type == "meeting.scheduled":
        return "meeting_booked"
    suppressed = (event.payload.get("detail") or {}).get("suppressed")
    return f"suppressed:{suppressed}" if suppressed else None  # bounces and complaints that listed the address


def on_email_event(*, db_session: Session, event: Event) -> None:
    reason = _reason(event)
    prospect_id = event.payload.get("prospectId")
    if reason and prospect_id:
        service.pause_active(db_session=db_session, prospect_id=uuid.UUID(prospect_id), reason=reason,
                     now=event.occurred_at)


SUBSCRIBERS = [
    Subscriber("cadences.pause_on_engagement",
               frozenset({"email.replied", "email.unsubscribed", "email.bounced", "email.spam_reported",
                          "meeting.scheduled"}),
               on_email_event),
]

"""Rolling engagement onto the email row: opens, clicks, replies, bounces and unsubscribes.

Each roll-up first records its event (`event_log.record_event`, idempotent by event key) and changes
the row only when the event is new, so a repeated pixel load or webhook delivery counts once. Then it publishes
the domain event (`email.opened` …); the timeline entry and pausing cadences are subscribers of it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.core import outbox
from serving.core.config import Settings
from serving.core.event_catalogue import EmailUnsubscribed
from serving.emails import suppression
from serving.emails.event_log import publish, record_event
from serving.emails.models import BounceType, Email, EmailStatus, TrackingEventType
from serving.prospects.models import Prospect


def _recorded(db_session: Session, email: Email, event: str, occurred_at: datetime, **details) -> bool:
    """Record an engagement event from the email's (first) recipient; True when it is new."""
    return record_event(db_session=db_session, email=email, event=event, occurred_at=occurred_at,
                        recipient=email.to[0]["email"] if email.to else None, **details)


def track_open(
    *,
    db_session: Session,
    email: Email,
    occurred_at: datetime,
    source: str = "tracking",
    useragent: str | None = None,
    ip: str | None = None,
    event_key: str | None = None,
    land_raw: bool = True,
) -> None:
    if not _recorded(db_session, email, TrackingEventType.open, occurred_at, source=source, useragent=useragent,
                     ip=ip, event_key=event_key, land_raw=land_raw):
        return
    first = not email.opened
    email.opened = True
    email.open_count += 1
    email.first_opened_at = email.first_opened_at or occurred_at
    email.last_opened_at = max(email.last_opened_at or occurred_at, occurred_at)
    publish(db_session, email, "email.opened", occurred_at, first=first)


def track_click(
    *,
    db_session: Session,
    email: Email,
    url: str,
    occurred_at: datetime,
    source: str = "tracking",
    useragent: str | None = None,
    ip: str | None = None,
    event_key: str | None = None,
    land_raw: bool = True,
) -> None:
    if not _recorded(db_session, email, TrackingEventType.click, occurred_at, source=source, url=url,
                     useragent=useragent, ip=ip, event_key=event_key, land_raw=land_raw):
        return
    first = not email.clicked
    email.clicked = True
    email.click_count += 1
    email.first_clicked_at = email.first_clicked_at or occurred_at
    email.last_clicked_at = max(email.last_clicked_at or occurred_at, occurred_at)
    # a click implies the message was opened, even when images were blocked
    if not email.opened:
        email.opened = True
        email.first_opened_at = occurred_at
        email.last_opened_at = occurred_at
    publish(db_session, email, "email.clicked", occurred_at, first=first, detail={"url": url})


def unsubscribe(
    *,
    db_session: Session,
    organization_id: uuid.UUID,
    address: str,
    email: Email | None,
    source: str,
    occurred_at: datetime,
    event_key: str | None = None,
    land_raw: bool = True,
) -> bool:
    prospect_id = email.prospect_id if email else None
    if prospect_id is None:
        prospect_id = db_session.scalar(select(Prospect.id).where(Prospect.email == address.lower()))
    added = suppression.unsubscribe(
        db_session=db_session,
        organization_id=organization_id,
        address=address,
        source=source,
        email_id=email.id if email else None,
        prospect_id=prospect_id,
    )
    fresh = True
    if email is not None:
        fresh = record_event(
            db_session=db_session,
            email=email,
            event=TrackingEventType.unsubscribe,
            occurred_at=occurred_at,
            source=source,
            recipient=address,
            event_key=event_key,
            land_raw=land_raw,
        )
        email.unsubscribed = True
    # Published even when the address was already suppressed: cadences still pause the prospect's enrollments.
    outbox.publish(
        db_session, organization_id=organization_id, type="email.unsubscribed", occurred_at=occurred_at,
        subject_id=prospect_id,
        payload=EmailUnsubscribed(
            address=address.lower(), prospect_id=prospect_id, source=source, first=bool(fresh and added),
            **({"email_id": email.id, "deal_id": email.deal_id, "user_id": email.user_id, "team_id": email.team_id,
                "cadence_id": email.cadence_id} if email is not None else {}),
        ),
    )
    return added


def bounce(
    *,
    db_session: Session,
    settings: Settings | None,
    email: Email,
    address: str,
    bounce_type: str,
    occurred_at: datetime,
    reason: str | None = None,
    status_code: str | None = None,
    source: str,
    event_key: str | None = None,
    land_raw: bool = True,
) -> str | None:
    event = TrackingEventType.spamreport if bounce_type == BounceType.spam else TrackingEventType.bounce
    if not record_event(
        db_session=db_session,
        email=email,
        event=event,
        occurred_at=occurred_at,
        source=source,
        recipient=address,
        reason=reason,
        bounce_type=bounce_type,
        event_key=event_key,
        land_raw=land_raw,
    ):
        return None
    listed = suppression.record_bounce(
        db_session=db_session,
        organization_id=email.organization_id,
        address=address,
        bounce_type=bounce_type,
        occurred_at=occurred_at,
        email_id=email.id,
        reason=reason,
        status_code=status_code,
        soft_limit=settings.soft_bounce_limit if settings else 3,
        soft_window_days=settings.soft_bounce_window_days if settings else 7,
    )
    if bounce_type != BounceType.spam:
        email.bounced = True
        if bounce_type == BounceType.hard:
            email.status = EmailStatus.bounced
    publish(db_session, email, "email.spam_reported" if bounce_type == BounceType.spam else "email.bounced",
            occurred_at, detail={"reason": reason, "bounceType": bounce_type, "suppressed": listed})
    return listed


def mark_replied(
    *,
    db_session: Session,
    email: Email,
    occurred_at: datetime,
    source: str = "inbound",
    event_key: str | None = None,
    details: dict | None = None,
) -> bool:
    if not _recorded(db_session, email, TrackingEventType.reply, occurred_at, source=source, event_key=event_key,
                     details=details):
        return False
    email.replied = True
    email.replied_at = email.replied_at or occurred_at
    publish(db_session, email, "email.replied", occurred_at, detail=details)
    return True

"""The email record: reading one email and its events (queueing is `sending`, delivery `runner`)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.emails.models import Email, EmailTrackingEvent


def get(*, db_session: Session, email_id: uuid.UUID) -> Email | None:
    return db_session.get(Email, email_id)


def events_of(email_id: uuid.UUID):
    return (
        select(EmailTrackingEvent)
        .where(EmailTrackingEvent.email_id == email_id)
        .order_by(EmailTrackingEvent.occurred_at, EmailTrackingEvent.id)
    )

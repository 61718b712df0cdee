"""The email record: reading emails and their events, and cancelling a queued one (queueing a send is
`sending`, delivering it `runner`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from serving.core.db import set_tenant
from serving.core.errors import ValidationFailed
from serving.emails.models import Email, EmailStatus, EmailTrackingEvent


def get(*, db_session: Session, email_id: uuid.UUID, lock: bool = False) -> Email | None:
    """`lock` takes the row lock a state change needs (delivery holds it while it sends)."""
    return db_session.get(Email, email_id, with_for_update=True if lock else None)


def get_tracked(
    *, db_session: Session, organization_id: uuid.UUID, email_id: uuid.UUID | None, lock: bool = False
) -> Email | None:
    """The email a signed tracking link names. Such a request has no principal: the transaction is
    bound to the organization the token names (the signature vouches for it) before anything is read."""
    set_tenant(db_session, organization_id)
    return get(db_session=db_session, email_id=email_id, lock=lock) if email_id else None


def filtered(
    *,
    statuses: Iterable[EmailStatus] = (),
    prospect_id: uuid.UUID | None = None,
    cadence_id: uuid.UUID | None = None,
    bulk_job_id: uuid.UUID | None = None,
) -> Select:
    stmt = select(Email)
    statuses = list(statuses)
    if statuses:
        stmt = stmt.where(Email.status.in_(statuses))
    if prospect_id:
        stmt = stmt.where(Email.prospect_id == prospect_id)
    if cadence_id:
        stmt = stmt.where(Email.cadence_id == cadence_id)
    if bulk_job_id:
        stmt = stmt.where(Email.bulk_job_id == bulk_job_id)
    return stmt.order_by(Email.created_at.desc(), Email.id)


def cancel(*, db_session: Session, email: Email) -> None:
    """Only a `queued` email can be cancelled: once claimed, it may already be at the provider.
    Lock the row first (`get(lock=True)`), so delivery cannot claim it meanwhile."""
    if email.status != EmailStatus.queued:
        raise ValidationFailed(
            f"only queued emails can be cancelled (this one is {email.status})",
            code="INVALID_STATE",
            details={"status": email.status},
        )
    email.status = EmailStatus.cancelled
    db_session.flush()


def events_of(email_id: uuid.UUID) -> Select:
    return (
        select(EmailTrackingEvent)
        .where(EmailTrackingEvent.email_id == email_id)
        .order_by(EmailTrackingEvent.occurred_at, EmailTrackingEvent.id)
    )

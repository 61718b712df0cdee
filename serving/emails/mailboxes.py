"""Sending mailboxes and their daily caps (with warm-up)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from serving.core.principal import Principal
from serving.core.references import require_visible
from serving.emails.models import Email, Mailbox
from serving.emails.schemas import MailboxIn
from serving.users.models import User


def effective_cap(mailbox: Mailbox, now: datetime) -> int:
    """The day's cap; during warm-up it starts low and grows daily up to `daily_cap`."""
    if not mailbox.warmup_enabled or mailbox.warmup_started_on is None:
        return mailbox.daily_cap
    days = max((now.date() - mailbox.warmup_started_on.date()).days, 0)
    return min(mailbox.daily_cap, mailbox.warmup_start_cap + days * mailbox.warmup_daily_increase)


def warmup_schedule(mailbox: Mailbox, now: datetime, days: int = 30) -> list[tuple[datetime, int]]:
    """While warming up: each coming day with its cap, up to the day it reaches `daily_cap` (and at most `days`)."""
    if effective_cap(mailbox, now) >= mailbox.daily_cap:
        return []
    schedule = []
    for offset in range(days + 1):
        day = now + timedelta(days=offset)
        schedule.append((day, effective_cap(mailbox, day)))
        if schedule[-1][1] >= mailbox.daily_cap:
            break
    return schedule


def sent_today(*, db_session: Session, mailbox_id: uuid.UUID, now: datetime) -> int:
    start = datetime(now.year, now.month, now.day, tzinfo=UTC)
    return (
        db_session.scalar(
            select(func.count())
            .select_from(Email)
            .where(Email.mailbox_id == mailbox_id, Email.sent_at >= start)
        )
        or 0
    )


def sent_today_counts(*, db_session: Session, mailbox_ids: list[uuid.UUID], now: datetime) -> dict[uuid.UUID, int]:
    """`sent_today` for many mailboxes in one query (a page of mailboxes)."""
    if not mailbox_ids:
        return {}
    start = datetime(now.year, now.month, now.day, tzinfo=UTC)
    rows = db_session.execute(
        select(Email.mailbox_id, func.count())
        .where(Email.mailbox_id.in_(mailbox_ids), Email.sent_at >= start)
        .group_by(Email.mailbox_id)
    )
    return {mailbox_id: count for mailbox_id, count in rows}


def get(*, db_session: Session, mailbox_id: uuid.UUID) -> Mailbox | None:
    return db_session.get(Mailbox, mailbox_id)


def listed() -> Select:
    return select(Mailbox).order_by(Mailbox.email, Mailbox.id)


def create(*, db_session: Session, principal: Principal, data: MailboxIn) -> Mailbox:
    require_visible(db_session, User, data.user_id, "userId")
    mailbox = Mailbox(organization_id=principal.organization_id, **data.model_dump())
    db_session.add(mailbox)
    db_session.flush()
    return mailbox


def update(*, db_session: Session, mailbox: Mailbox, data: MailboxIn) -> None:
    # the foreign key alone accepts any organization's user; row-level security does not cover it
    require_visible(db_session, User, data.user_id, "userId")
    for key, value in data.model_dump(exclude_unset=True).items():
        setattr(mailbox, key, value)
    db_session.flush()

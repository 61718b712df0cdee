"""Sending mailboxes and their daily caps (with warm-up)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serving.emails.models import Email, Mailbox


def effective_cap(mailbox: Mailbox, now: datetime) -> int:
    """The day's cap; during warm-up it starts low and grows daily up to `daily_cap`."""
    if not mailbox.warmup_enabled or mailbox.warmup_started_on is None:
        return mailbox.daily_cap
    days = max((now.date() - mailbox.warmup_started_on.date()).days, 0)
    return min(mailbox.daily_cap, mailbox.warmup_start_cap + days * mailbox.warmup_daily_increase)


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

"""The suppression list: who must never be emailed again, and how addresses get onto it.

`suppressed()` is the one check every sending path calls at send time (single, bulk, cadence,
the BDR agent): unsubscribed, hard-bounced, spam-complaining and repeatedly soft-bouncing addresses.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import ARRAY, Text, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from serving.emails.models import BlacklistReason, BounceType, EmailBlacklist, EmailBounce, EmailUnsubscribe


def suppressed(*, db_session: Session, addresses: Iterable[str]) -> dict[str, str]:
    """`{address: reason}` for the addresses that must not receive email (tenant-scoped session)."""
    wanted = sorted({a.strip().lower() for a in addresses if a})
    if not wanted:
        return {}
    result: dict[str, str] = {}
    # one array parameter rather than IN with a parameter per address (a batch asks about 1,000)
    addresses_param = bindparam(None, wanted, type_=ARRAY(Text()))
    for address, reason in db_session.execute(
        select(EmailBlacklist.email, EmailBlacklist.reason).where(EmailBlacklist.email == any_(addresses_param))
    ):
        result[address] = reason
    for (address,) in db_session.execute(
        select(EmailUnsubscribe.email).where(EmailUnsubscribe.email == any_(addresses_param))
    ):
        result[address] = "unsubscribed"
    return result


def is_suppressed(*, db_session: Session, address: str) -> str | None:
    return suppressed(db_session=db_session, addresses=[address]).get(address.strip().lower())


def unsubscribe(
    *,
    db_session: Session,
    organization_id: uuid.UUID,
    address: str,
    source: str,
    email_id: uuid.UUID | None = None,
    prospect_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> bool:
    """Add to the unsubscribe list; True when the address was not on it yet."""
    row = db_session.execute(
        insert(EmailUnsubscribe)
        .values(
            id=uuid.uuid4(),
            organization_id=organization_id,
            email=address.strip().lower(),
            source=source,
            email_id=email_id,
            prospect_id=prospect_id,
            reason=reason,
        )
        .on_conflict_do_nothing(index_elements=[EmailUnsubscribe.organization_id, EmailUnsubscribe.email])
        .returning(EmailUnsubscribe.id)
    ).first()
    return row is not None


def blacklist(
    *, db_session: Session, organization_id: uuid.UUID, address: str, reason: str, details: str | None = None
) -> bool:
    row = db_session.execute(
        insert(EmailBlacklist)
        .values(
            id=uuid.uuid4(),
            organization_id=organization_id,
            email=address.strip().lower(),
            reason=reason,
            details=details,
        )
        .on_conflict_do_nothing(index_elements=[EmailBlacklist.organization_id, EmailBlacklist.email])
        .returning(EmailBlacklist.id)
    ).first()
    return row is not None


def record_bounce(
    *,
    db_session: Session,
    organization_id: uuid.UUID,
    address: str,
    bounce_type: str,
    occurred_at: datetime,
    email_id: uuid.UUID | None = None,
    reason: str | None = None,
    status_code: str | None = None,
    soft_limit: int = 3,
    soft_window_days: int = 7,
) -> str | None:
    """Log a bounce; hard bounces and spam complaints suppress at once, soft ones after N in a window.

    Returns the blacklist reason when the address became suppressed.
    """
    address = address.strip().lower()
    db_session.add(
        EmailBounce(
            organization_id=organization_id,
            email=address,
            email_id=email_id,
            bounce_type=bounce_type,
            reason=reason,
            status_code=status_code,
            occurred_at=occurred_at,
        )
    )
    db_session.flush()
    if bounce_type == BounceType.hard:
        listed = BlacklistReason.hard_bounce
    elif bounce_type == BounceType.spam:
        listed = BlacklistReason.spam_complaint
    else:
        recent = db_session.scalar(
            select(func.count())
            .select_from(EmailBounce)
            .where(
                EmailBounce.email == address,
                EmailBounce.bounce_type == BounceType.soft,
                EmailBounce.occurred_at > occurred_at - timedelta(days=soft_window_days),
            )
        )
        if recent < soft_limit:
            return None
        listed = BlacklistReason.soft_bounce_limit
    blacklist(
        db_session=db_session, organization_id=organization_id, address=address, reason=listed, details=reason
    )
    return listed

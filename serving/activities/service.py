"""Activity timeline queries and activity creation."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select

from serving.activities.models import Activity


def timeline(
    *, prospect_id: uuid.UUID | None = None, account_id: uuid.UUID | None = None, deal_id: uuid.UUID | None = None
) -> Select:
    """Newest first; an account's timeline includes its prospects' and deals' activities."""
    stmt = select(Activity)
    if prospect_id is not None:
        stmt = stmt.where(Activity.prospect_id == prospect_id)
    if account_id is not None:
        stmt = stmt.where(Activity.account_id == account_id)
    if deal_id is not None:
        stmt = stmt.where(Activity.deal_id == deal_id)
    return stmt.order_by(Activity.occurred_at.desc(), Activity.id)

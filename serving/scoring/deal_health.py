"""A deal's risk and health for `GET /deals/{id}/health`: the pipeline's assessment when there is one, else the
deal-risk rule (`serving/deals/health.py`, one rule with the dbt macro) computed from the deal's current facts.

In the scoring domain because it gathers facts across deals, contacts and the timeline; deals stay below the
timeline in the layer order.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serving.activities import service as activities
from serving.core.clock import utcnow
from serving.deals import health as deal_health
from serving.deals.models import Deal, DealContact
from serving.deals.schemas import NEXT_STEP_KEY


def assess(*, db_session: Session, deal: Deal, now: datetime | None = None) -> deal_health.DealHealth:
    stored = deal_health.from_pipeline(deal.risk_score, deal.ai_analysis)
    if stored is not None:
        return stored
    now = now or utcnow()
    contact_ids = select(DealContact.prospect_id).where(DealContact.deal_id == deal.id)
    # Activity with the deal's contacts counts too. The rule counts calendar days, so anything dated today
    # counts (as in the nightly mart's as-of day).
    end_of_today = datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), time.min, tzinfo=UTC)
    last_activity_at = activities.last_touch(db_session=db_session, deal_id=deal.id, prospect_ids=contact_ids,
                                             before=end_of_today)
    contact_count = db_session.scalar(select(func.count()).select_from(contact_ids.subquery())) or 0
    snapshot = deal_health.DealSnapshot(
        stage=deal.stage, created_at=deal.created_at, stage_changed_at=deal.stage_changed_at,
        close_date=deal.close_date, last_activity_at=last_activity_at, contact_count=contact_count,
        next_step=(deal.metadata_ or {}).get(NEXT_STEP_KEY),
    )
    return deal_health.assess(snapshot, now=now)

"""Pipeline board: open and closed deals by stage (`dim_deals`, a live view) with their health marts."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from dashboards.data.db import TTL, id_list, read_frame

# The pipeline's stages in board order: `dim_deals`' accepted values, and serving.deals' DealStage (both tested).
STAGES = ["discovery", "qualification", "proposal", "negotiation", "closed_won", "closed_lost"]
OPEN_STAGES = [s for s in STAGES if s not in ("closed_won", "closed_lost")]
CLOSE_PERIODS = {
    "any": "Any close date",
    "this_month": "Closing this month",
    "this_quarter": "Closing this quarter",
    "next_quarter": "Closing next quarter",
    "this_year": "Closing this year",
    "overdue": "Close date passed",
}

# Bound filters only: an empty id list or a null bound means "no filter".
WHERE = """
where d.organization_id = :org
    and (cardinality(cast(:team_ids as uuid[])) = 0 or d.team_id = any(cast(:team_ids as uuid[])))
    and (cardinality(cast(:owner_ids as uuid[])) = 0 or d.owner_id = any(cast(:owner_ids as uuid[])))
    and (cast(:close_from as date) is null or d.close_date >= cast(:close_from as date))
    and (cast(:close_to as date) is null or d.close_date < cast(:close_to as date))
    and coalesce(d.amount, 0) between :min_amount and :max_amount
"""

DEALS = f"""
select
    d.deal_id, d.deal_name, d.stage, d.amount, d.probability, d.close_date, d.forecast_category,
    d.account_name, d.owner_name, d.team_name,
    h.risk_score, h.risk_level, h.risk_reason_list as risk_reasons, d.stage_changed_at
from analytics.dim_deals as d
left join analytics.fct_deal_health as h on h.deal_id = d.deal_id and h.organization_id = d.organization_id
{WHERE}
order by d.amount desc nulls last, d.deal_name
limit :row_limit
"""

STAGE_TOTALS = f"""
select d.stage, count(*) as deal_count, coalesce(sum(d.amount), 0) as total_amount
from analytics.dim_deals as d
{WHERE}
group by d.stage
"""

AMOUNT_RANGE = """
select coalesce(min(amount), 0) as min_amount, coalesce(max(amount), 0) as max_amount
from analytics.dim_deals where organization_id = :org
"""

DEAL = """
select
    d.deal_id, d.deal_name, d.stage, d.amount, d.probability, d.close_date, d.forecast_category, d.created_at,
    d.stage_changed_at, d.account_name, d.owner_name, d.team_name,
    h.risk_score, h.risk_level, h.risk_reasons, h.days_in_stage, h.median_days_in_stage, h.last_activity_at,
    h.contact_count, ah.health_score as account_health_score, ah.health_tier as account_health_tier,
    h.as_of_date as health_as_of
from analytics.dim_deals as d
left join analytics.fct_deal_health as h on h.deal_id = d.deal_id and h.organization_id = d.organization_id
left join analytics.dim_account_health as ah on ah.account_id = d.account_id and ah.organization_id = d.organization_id
where d.organization_id = :org and d.deal_id = cast(:deal_id as uuid)
"""

TIMELINE = """
select occurred_at, activity_type, user_name, details
from analytics.fct_activities
where organization_id = :org and deal_id = cast(:deal_id as uuid)
order by occurred_at desc
limit 100
"""

STAGE_DURATIONS = """
select stage, entered_at, exited_at, days_in_stage, is_current
from analytics.fct_deal_stage_durations
where organization_id = :org and deal_id = cast(:deal_id as uuid)
order by entered_at
"""


def period_bounds(period: str, today: date) -> tuple[date | None, date | None]:
    """[from, to) of a close period; `None` is unbounded."""
    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)

    def add_months(day: date, months: int) -> date:
        index = day.year * 12 + day.month - 1 + months
        return date(index // 12, index % 12 + 1, 1)

    if period == "this_month":
        return today.replace(day=1), add_months(today.replace(day=1), 1)
    if period == "this_quarter":
        return quarter_start, add_months(quarter_start, 3)
    if period == "next_quarter":
        return add_months(quarter_start, 3), add_months(quarter_start, 6)
    if period == "this_year":
        return date(today.year, 1, 1), date(today.year + 1, 1, 1)
    if period == "overdue":
        return None, today
    return None, None


def _params(team_ids, owner_ids, close_from, close_to, min_amount, max_amount) -> dict:
    return {"team_ids": id_list(team_ids), "owner_ids": id_list(owner_ids), "close_from": close_from,
            "close_to": close_to, "min_amount": min_amount, "max_amount": max_amount}


@st.cache_data(ttl=TTL, show_spinner=False)
def deals(org: str, team_ids: tuple = (), owner_ids: tuple = (), close_from: date | None = None,
          close_to: date | None = None, min_amount: float = 0, max_amount: float = 1e15,
          row_limit: int = 5000) -> pd.DataFrame:
    params = _params(team_ids, owner_ids, close_from, close_to, min_amount, max_amount)
    return read_frame(DEALS, org, {**params, "row_limit": row_limit})


@st.cache_data(ttl=TTL, show_spinner=False)
def stage_totals(org: str, team_ids: tuple = (), owner_ids: tuple = (), close_from: date | None = None,
                 close_to: date | None = None, min_amount: float = 0, max_amount: float = 1e15) -> pd.DataFrame:
    """Count and value per stage, every stage present (0 when empty), in pipeline order."""
    frame = read_frame(STAGE_TOTALS, org, _params(team_ids, owner_ids, close_from, close_to, min_amount, max_amount))
    totals = pd.DataFrame({"stage": STAGES}).merge(frame, on="stage", how="left")
    totals["deal_count"] = totals["deal_count"].fillna(0).astype(int)
    totals["total_amount"] = totals["total_amount"].fillna(0).astype(float)
    return totals


@st.cache_data(ttl=TTL, show_spinner=False)
def amount_range(org: str) -> tuple[float, float]:
    row = read_frame(AMOUNT_RANGE, org).iloc[0]
    return float(row["min_amount"]), float(row["max_amount"])


@st.cache_data(ttl=TTL, show_spinner=False)
def deal(org: str, deal_id: str) -> pd.DataFrame:
    return read_frame(DEAL, org, {"deal_id": deal_id})


@st.cache_data(ttl=TTL, show_spinner=False)
def timeline(org: str, deal_id: str) -> pd.DataFrame:
    return read_frame(TIMELINE, org, {"deal_id": deal_id})


@st.cache_data(ttl=TTL, show_spinner=False)
def stage_durations(org: str, deal_id: str) -> pd.DataFrame:
    return read_frame(STAGE_DURATIONS, org, {"deal_id": deal_id})


def clear() -> None:
    """Forget cached deals after an action changed them (the board reads a live view)."""
    for cached in (deals, stage_totals, deal, timeline, stage_durations, amount_range):
        cached.clear()

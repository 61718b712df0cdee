"""Intent: top prospects and accounts, tiers, spikes, score history sparklines, signals by type."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.data.db import TTL, read_frame

TIERS = ["burning", "hot", "warm", "low"]

TOP_PROSPECTS = """
select i.prospect_id, p.email, p.title, a.account_name, i.intent_score, i.intent_tier, i.intent_trend, i.is_spike,
    i.active_signals, i.last_signal_on
from analytics.fct_prospect_intent as i
left join analytics.dim_prospects as p on p.prospect_id = i.prospect_id
left join analytics.dim_accounts as a on a.account_id = i.account_id
where i.organization_id = :org and i.intent_tier = any(cast(:tiers as text[]))
order by i.intent_score desc, p.email
limit :row_limit
"""

TOP_ACCOUNTS = """
select i.account_id, a.account_name, a.domain, i.intent_score, i.intent_tier, i.intent_trend, i.is_spike,
    i.active_signals, i.last_signal_on
from analytics.fct_account_intent as i
left join analytics.dim_accounts as a on a.account_id = i.account_id
where i.organization_id = :org and i.intent_tier = any(cast(:tiers as text[]))
order by i.intent_score desc, a.account_name
limit :row_limit
"""

TIER_COUNTS = """
select 'prospect' as entity_type, intent_tier, count(*) as entities
from analytics.fct_prospect_intent where organization_id = :org group by intent_tier
union all
select 'account', intent_tier, count(*) from analytics.fct_account_intent where organization_id = :org
group by intent_tier
"""

# Entities spiking now (score ≥ 20 above their 28-day baseline) whose latest signal is from the last 7 days.
SPIKES = """
select 'prospect' as entity_type, i.prospect_id as entity_id, p.email as name, i.intent_score, i.baseline_score,
    i.intent_tier, i.last_signal_on
from analytics.fct_prospect_intent as i
left join analytics.dim_prospects as p on p.prospect_id = i.prospect_id
where i.organization_id = :org and i.is_spike and i.last_signal_on > i.as_of_date - 7
union all
select 'account', i.account_id, a.account_name, i.intent_score, i.baseline_score, i.intent_tier, i.last_signal_on
from analytics.fct_account_intent as i
left join analytics.dim_accounts as a on a.account_id = i.account_id
where i.organization_id = :org and i.is_spike and i.last_signal_on > i.as_of_date - 7
order by intent_score desc
"""

HISTORY = """
select entity_id, score_date, intent_score
from analytics.intent_score_history
where organization_id = :org and entity_type = :entity_type and entity_id = any(cast(:entity_ids as uuid[]))
    and score_date > (select max(score_date) from analytics.intent_score_history where organization_id = :org) - :days
order by entity_id, score_date
"""

SIGNALS_BY_TYPE = """
with as_of as (
    select coalesce(max(as_of_date), current_date) as day from analytics.fct_account_intent where organization_id = :org
)
select s.signal_type, count(*) as signals, count(distinct s.account_domain) as accounts,
    count(distinct s.prospect_email) as prospects, round(avg(s.strength)::numeric, 2) as avg_strength
from analytics.fct_intent_signals as s, as_of
where s.organization_id = :org and s.occurred_at >= as_of.day - :days + 1 and s.occurred_at < as_of.day + 1
group by s.signal_type
order by signals desc
"""


@st.cache_data(ttl=TTL, show_spinner=False)
def top_prospects(org: str, tiers: tuple = tuple(TIERS), row_limit: int = 25) -> pd.DataFrame:
    return read_frame(TOP_PROSPECTS, org, {"tiers": list(tiers), "row_limit": row_limit})


@st.cache_data(ttl=TTL, show_spinner=False)
def top_accounts(org: str, tiers: tuple = tuple(TIERS), row_limit: int = 25) -> pd.DataFrame:
    return read_frame(TOP_ACCOUNTS, org, {"tiers": list(tiers), "row_limit": row_limit})


@st.cache_data(ttl=TTL, show_spinner=False)
def tier_counts(org: str) -> pd.DataFrame:
    frame = read_frame(TIER_COUNTS, org)
    frame["entities"] = frame["entities"].astype(int)
    return frame


@st.cache_data(ttl=TTL, show_spinner=False)
def spikes(org: str) -> pd.DataFrame:
    return read_frame(SPIKES, org)


@st.cache_data(ttl=TTL, show_spinner=False)
def sparklines(org: str, entity_type: str, entity_ids: tuple, days: int = 30) -> dict[str, list[int]]:
    """Daily scores over the last `days` days per entity (oldest first), for sparkline columns."""
    if not entity_ids:
        return {}
    frame = read_frame(HISTORY, org, {"entity_type": entity_type, "entity_ids": [str(e) for e in entity_ids],
                                      "days": days})
    return {str(k): [int(v) for v in g["intent_score"]] for k, g in frame.groupby("entity_id")}


@st.cache_data(ttl=TTL, show_spinner=False)
def signals_by_type(org: str, days: int = 30) -> pd.DataFrame:
    return read_frame(SIGNALS_BY_TYPE, org, {"days": days})

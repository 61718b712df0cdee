"""Seed 7.1 metrics: activity (`agg_activity_daily`), pipeline (`agg_pipeline_metrics`), email
(`agg_email_engagement_daily`), people and deals (`dim_users`, `dim_deals`, `dim_prospects`), BDR (empty until the
BDR agent's marts exist)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from dashboards.data.db import TTL, id_list, read_frame

ACTIVITY_TYPES = {"calls": "Calls", "emails_sent": "Emails", "meetings": "Meetings", "linkedin_touches": "LinkedIn"}

# A user filter wins over a team filter; neither means the whole organization.
USER_FILTER = """
    and (cardinality(cast(:user_ids as uuid[])) = 0 or a.user_id = any(cast(:user_ids as uuid[])))
    and (cardinality(cast(:team_ids as uuid[])) = 0 or u.team_id = any(cast(:team_ids as uuid[])))
"""

ACTIVITY_TOTALS = f"""
select coalesce(sum(a.calls), 0) as calls, coalesce(sum(a.emails_sent), 0) as emails_sent,
    coalesce(sum(a.meetings), 0) as meetings, coalesce(sum(a.linkedin_touches), 0) as linkedin_touches,
    coalesce(sum(a.total_touches), 0) as total_touches
from analytics.agg_activity_daily as a
left join analytics.dim_users as u on u.user_id = a.user_id
where a.organization_id = :org and a.activity_date between :date_from and :date_to
{USER_FILTER}
"""

ACTIVITY_WEEKLY = f"""
select date_trunc('week', a.activity_date)::date as week, sum(a.calls) as calls, sum(a.emails_sent) as emails_sent,
    sum(a.meetings) as meetings, sum(a.linkedin_touches) as linkedin_touches
from analytics.agg_activity_daily as a
left join analytics.dim_users as u on u.user_id = a.user_id
where a.organization_id = :org and a.activity_date between :date_from and :date_to
{USER_FILTER}
group by 1
order by 1
"""

ACTIVITY_BY_USER = f"""
select u.user_name, u.team_name, sum(a.calls) as calls,
    sum(a.emails_sent) as emails_sent, sum(a.meetings) as meetings, sum(a.linkedin_touches) as linkedin_touches,
    sum(a.total_touches) as total_touches
from analytics.agg_activity_daily as a
left join analytics.dim_users as u on u.user_id = a.user_id
where a.organization_id = :org and a.activity_date between :date_from and :date_to
{USER_FILTER}
group by 1, 2
order by total_touches desc
"""

# Pipeline metrics per month, for the organization, the selected teams or the selected owners.
PIPELINE_MONTHLY = """
select period_month, sum(deals_created) as deals_created, sum(pipeline_created_amount) as pipeline_created_amount,
    sum(deals_won) as deals_won, sum(deals_lost) as deals_lost, sum(won_amount) as won_amount,
    sum(avg_sales_cycle_days * deals_won) as cycle_day_sum
from analytics.agg_pipeline_metrics
where organization_id = :org and dimension = :dimension
    and (:dimension = 'organization' or dimension_id = any(cast(:dimension_ids as uuid[])))
    and period_month between date_trunc('month', cast(:date_from as date))::date and :date_to
group by period_month
order by period_month
"""

OPEN_PIPELINE = """
select coalesce(sum(d.amount), 0) as open_pipeline, count(*) as open_deals
from analytics.dim_deals as d
where d.organization_id = :org and not d.is_closed
    and (cardinality(cast(:user_ids as uuid[])) = 0 or d.owner_id = any(cast(:user_ids as uuid[])))
    and (cardinality(cast(:team_ids as uuid[])) = 0 or d.team_id = any(cast(:team_ids as uuid[])))
"""

# Email funnel of prospects owned by the selected people (all prospects without a filter).
EMAIL_DAILY = """
select e.event_date, sum(e.sent) as sent, sum(e.delivered) as delivered, sum(e.opened) as opened,
    sum(e.clicked) as clicked, sum(e.replied) as replied, sum(e.bounced) as bounced
from analytics.agg_email_engagement_daily as e
left join analytics.dim_prospects as p on p.prospect_id = e.dimension_id
where e.organization_id = :org and e.dimension = 'prospect' and e.event_date between :date_from and :date_to
    and (cardinality(cast(:user_ids as uuid[])) = 0 or p.owner_id = any(cast(:user_ids as uuid[])))
    and (cardinality(cast(:team_ids as uuid[])) = 0 or p.team_id = any(cast(:team_ids as uuid[])))
group by e.event_date
order by e.event_date
"""


def _params(date_from: date, date_to: date, team_ids: tuple, user_ids: tuple) -> dict:
    return {"date_from": date_from, "date_to": date_to, "team_ids": id_list(team_ids), "user_ids": id_list(user_ids)}


def rate(numerator: float, denominator: float) -> float | None:
    return float(numerator) / float(denominator) if denominator else None


@st.cache_data(ttl=TTL, show_spinner=False)
def activity_totals(org: str, date_from: date, date_to: date, team_ids: tuple = (), user_ids: tuple = ()) -> dict:
    row = read_frame(ACTIVITY_TOTALS, org, _params(date_from, date_to, team_ids, user_ids)).iloc[0]
    return {k: int(v) for k, v in row.items()}


@st.cache_data(ttl=TTL, show_spinner=False)
def activity_weekly(org: str, date_from: date, date_to: date, team_ids: tuple = (), user_ids: tuple = ()):
    return read_frame(ACTIVITY_WEEKLY, org, _params(date_from, date_to, team_ids, user_ids))


@st.cache_data(ttl=TTL, show_spinner=False)
def activity_by_user(org: str, date_from: date, date_to: date, team_ids: tuple = (), user_ids: tuple = ()):
    return read_frame(ACTIVITY_BY_USER, org, _params(date_from, date_to, team_ids, user_ids))


@st.cache_data(ttl=TTL, show_spinner=False)
def pipeline_monthly(org: str, date_from: date, date_to: date, team_ids: tuple = (), user_ids: tuple = ()):
    """Monthly pipeline metrics with win rate, average deal size and cycle length per month."""
    dimension, ids = ("owner", user_ids) if user_ids else ("team", team_ids) if team_ids else ("organization", ())
    frame = read_frame(PIPELINE_MONTHLY, org, {"dimension": dimension, "dimension_ids": id_list(ids),
                                               "date_from": date_from, "date_to": date_to})
    for column in ("deals_created", "deals_won", "deals_lost"):
        frame[column] = frame[column].astype(int)
    for column in ("pipeline_created_amount", "won_amount", "cycle_day_sum"):
        frame[column] = frame[column].astype(float)
    closed = frame["deals_won"] + frame["deals_lost"]
    frame["win_rate"] = (frame["deals_won"] / closed.where(closed > 0)).astype(float)
    frame["avg_deal_size"] = (frame["won_amount"] / frame["deals_won"].where(frame["deals_won"] > 0)).astype(float)
    frame["avg_sales_cycle_days"] = (frame["cycle_day_sum"] / frame["deals_won"].where(frame["deals_won"] > 0))
    return frame


def pipeline_totals(monthly: pd.DataFrame) -> dict:
    """Whole-range figures from the monthly rows (sums of counts, not averages of rates)."""
    won, lost = int(monthly["deals_won"].sum()), int(monthly["deals_lost"].sum())
    return {
        "pipeline_created": float(monthly["pipeline_created_amount"].sum()),
        "deals_created": int(monthly["deals_created"].sum()),
        "deals_won": won,
        "win_rate": rate(won, won + lost),
        "avg_deal_size": rate(monthly["won_amount"].sum(), won),
        "avg_sales_cycle_days": rate(monthly["cycle_day_sum"].sum(), won),
    }


@st.cache_data(ttl=TTL, show_spinner=False)
def open_pipeline(org: str, team_ids: tuple = (), user_ids: tuple = ()) -> dict:
    row = read_frame(OPEN_PIPELINE, org, {"team_ids": id_list(team_ids), "user_ids": id_list(user_ids)}).iloc[0]
    return {"open_pipeline": float(row["open_pipeline"]), "open_deals": int(row["open_deals"])}


@st.cache_data(ttl=TTL, show_spinner=False)
def email_daily(org: str, date_from: date, date_to: date, team_ids: tuple = (), user_ids: tuple = ()):
    return read_frame(EMAIL_DAILY, org, _params(date_from, date_to, team_ids, user_ids))


def email_totals(daily: pd.DataFrame) -> dict:
    sums = {k: int(daily[k].sum()) if len(daily) else 0
            for k in ("sent", "delivered", "opened", "clicked", "replied", "bounced")}
    return {**sums, "open_rate": rate(sums["opened"], sums["delivered"]),
            "click_rate": rate(sums["clicked"], sums["delivered"]),
            "reply_rate": rate(sums["replied"], sums["delivered"]), "bounce_rate": rate(sums["bounced"], sums["sent"])}

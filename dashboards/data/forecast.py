"""Forecast by category (`fct_forecast`) and historical accuracy (`fct_forecast_accuracy`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.data.db import TTL, read_frame

CATEGORIES = ["pipeline", "best_case", "commit", "closed"]
PERIODS = {"month": "This month", "quarter": "This quarter", "year": "This year"}

SUMMARY = """
select forecast_category, deal_count, amount, weighted_amount, period_start, period_end, as_of_date
from analytics.fct_forecast
where organization_id = :org and dimension = 'organization' and dimension_id = cast(:org as uuid)
    and period_type = :period_type
"""

BY_DIMENSION = """
select f.dimension_id, coalesce(u.user_name, t.team_name, 'unknown') as name, f.forecast_category,
    f.deal_count, f.amount, f.weighted_amount
from analytics.fct_forecast as f
left join analytics.dim_users as u on f.dimension = 'owner' and u.user_id = f.dimension_id
left join analytics.dim_teams as t on f.dimension = 'team' and t.team_id = f.dimension_id
where f.organization_id = :org and f.dimension = :dimension and f.period_type = :period_type
"""

ACCURACY = """
select snapshot_date, period_start, period_end, commit_forecast, weighted_forecast, actual_won_amount,
    period_closed, commit_accuracy_pct, weighted_accuracy_pct
from analytics.fct_forecast_accuracy
where organization_id = :org and dimension = 'organization' and dimension_id = cast(:org as uuid)
    and period_type = :period_type
order by snapshot_date
"""


@st.cache_data(ttl=TTL, show_spinner=False)
def summary(org: str, period_type: str) -> pd.DataFrame:
    """One row per category (pipeline, best case, commit, closed), in that order."""
    frame = read_frame(SUMMARY, org, {"period_type": period_type})
    if frame.empty:
        return frame
    frame["forecast_category"] = pd.Categorical(frame["forecast_category"], CATEGORIES, ordered=True)
    return frame.sort_values("forecast_category").reset_index(drop=True)


@st.cache_data(ttl=TTL, show_spinner=False)
def by_dimension(org: str, dimension: str, period_type: str, weighted: bool) -> pd.DataFrame:
    """Owners or teams as rows, categories as columns (weighted or unweighted amounts), plus a total."""
    frame = read_frame(BY_DIMENSION, org, {"dimension": dimension, "period_type": period_type})
    if frame.empty:
        return frame
    value = "weighted_amount" if weighted else "amount"
    table = (frame.pivot_table(index="name", columns="forecast_category", values=value, aggfunc="sum", fill_value=0)
             .reindex(columns=CATEGORIES, fill_value=0).astype(float))
    table["total"] = table.sum(axis=1)
    return table.sort_values("total", ascending=False).reset_index()


@st.cache_data(ttl=TTL, show_spinner=False)
def accuracy(org: str, period_type: str) -> pd.DataFrame:
    return read_frame(ACCURACY, org, {"period_type": period_type})

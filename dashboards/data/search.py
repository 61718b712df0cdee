"""Search analytics (seed 7.4): searches, latency and click-through per day, top and zero-result queries,
click-through by position, refinements and popular queries — from the search marts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import streamlit as st

from dashboards.data.db import TTL, read_frame

WINDOWS = [7, 30, 90]

DAILY = """
select search_date, searches, searchers, zero_result_searches, zero_result_rate, avg_latency_ms, p95_latency_ms,
    searches_with_click, clicks, click_through_rate
from analytics.agg_search_daily
where organization_id = :org and search_date > cast(:as_of as date) - :days and search_date <= :as_of
order by search_date
"""

TOP_QUERIES = """
select normalized_query as query, searches, searchers, avg_results, zero_result_searches, click_through_rate,
    last_searched_at
from analytics.agg_search_queries
where organization_id = :org and window_days = :days
order by searches desc, normalized_query
limit :row_limit
"""

ZERO_RESULT_QUERIES = """
select normalized_query as query, zero_result_searches, searches, searchers, last_searched_at
from analytics.agg_search_queries
where organization_id = :org and window_days = :days and zero_result_searches > 0
order by zero_result_searches desc, normalized_query
limit :row_limit
"""

CLICK_POSITIONS = """
select position, clicks, searches, click_through_rate
from analytics.agg_search_click_positions
where organization_id = :org and window_days = :days and position <= 20
order by position
"""

REFINEMENTS = """
select normalized_query as query, next_query as refined_to, count(*) as refinements,
    round(avg(seconds_to_next), 1) as avg_seconds
from analytics.fct_search_refinements
where organization_id = :org and search_date > cast(:as_of as date) - :days and search_date <= :as_of
group by normalized_query, next_query
order by refinements desc, normalized_query, next_query
limit :row_limit
"""

POPULAR = """
select popularity_rank, normalized_query as query, search_count, result_count, last_searched_at
from analytics.dim_search_popular_queries
where organization_id = :org and popularity_rank <= :row_limit
order by popularity_rank
"""


@dataclass(frozen=True)
class Summary:
    searches: int
    zero_result_rate: float | None
    avg_latency_ms: float | None
    click_through_rate: float | None


def summarize(daily: pd.DataFrame) -> Summary:
    """The window's figures from its days: rates over all its searches, the mean search time weighted by each
    day's searches (a mean of daily means would count a quiet day as much as a busy one)."""
    searches = int(daily["searches"].sum()) if not daily.empty else 0
    if searches == 0:
        return Summary(0, None, None, None)
    return Summary(
        searches=searches,
        zero_result_rate=float(daily["zero_result_searches"].sum()) / searches,
        avg_latency_ms=float((daily["avg_latency_ms"] * daily["searches"]).sum()) / searches,
        click_through_rate=float(daily["searches_with_click"].sum()) / searches,
    )


def _params(days: int, as_of: date | None = None, row_limit: int | None = None) -> dict:
    params: dict = {"days": int(days)}
    if as_of is not None:
        params["as_of"] = as_of
    if row_limit is not None:
        params["row_limit"] = int(row_limit)
    return params


@st.cache_data(ttl=TTL, show_spinner=False)
def daily(org: str, days: int, as_of: date) -> pd.DataFrame:
    frame = read_frame(DAILY, org, _params(days, as_of))
    for column in ("searches", "searchers", "zero_result_searches", "searches_with_click", "clicks"):
        frame[column] = frame[column].astype(int)
    return frame


@st.cache_data(ttl=TTL, show_spinner=False)
def top_queries(org: str, days: int, row_limit: int = 25) -> pd.DataFrame:
    return read_frame(TOP_QUERIES, org, _params(days, row_limit=row_limit))


@st.cache_data(ttl=TTL, show_spinner=False)
def zero_result_queries(org: str, days: int, row_limit: int = 25) -> pd.DataFrame:
    return read_frame(ZERO_RESULT_QUERIES, org, _params(days, row_limit=row_limit))


@st.cache_data(ttl=TTL, show_spinner=False)
def click_positions(org: str, days: int) -> pd.DataFrame:
    return read_frame(CLICK_POSITIONS, org, _params(days))


@st.cache_data(ttl=TTL, show_spinner=False)
def refinements(org: str, days: int, as_of: date, row_limit: int = 25) -> pd.DataFrame:
    return read_frame(REFINEMENTS, org, _params(days, as_of, row_limit))


@st.cache_data(ttl=TTL, show_spinner=False)
def popular(org: str, row_limit: int = 20) -> pd.DataFrame:
    return read_frame(POPULAR, org, {"row_limit": int(row_limit)})

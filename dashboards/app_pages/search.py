"""Search (seed 7.4): how much people search, how fast, what they find, what finds nothing, where they click and
how they rephrase."""

from __future__ import annotations

from datetime import date

import altair as alt
import streamlit as st

from dashboards.components import charts, session, states
from dashboards.components.formatting import number, pct
from dashboards.components.tables import table
from dashboards.data import search
from dashboards.data.db import DataUnavailable

user = session.current()
org = user.organization_id
st.title("Search")

c1, c2 = st.columns([2, 1])
days = c1.segmented_control("Window", search.WINDOWS, default=30, format_func=lambda d: f"last {d} days",
                            key="search_window") or 30
limit = c2.slider("Rows", 10, 100, 25, step=5, key="search_limit")
today = date.today()

try:
    daily = search.daily(org, days, today)
    top = search.top_queries(org, days, limit)
    zero = search.zero_result_queries(org, days, limit)
    positions = search.click_positions(org, days)
    refinements = search.refinements(org, days, today, limit)
    popular = search.popular(org)
except DataUnavailable as exc:
    states.unavailable(exc)
    st.stop()

summary = search.summarize(daily)
cols = st.columns(4)
cols[0].metric("Searches", f"{summary.searches:,}", border=True)
cols[1].metric("Zero-result rate", pct(summary.zero_result_rate), border=True)
cols[2].metric("Avg search time", "—" if summary.avg_latency_ms is None else f"{number(summary.avg_latency_ms)} ms",
               border=True)
cols[3].metric("Click-through rate", pct(summary.click_through_rate), border=True)

if daily.empty:
    states.empty(f"No searches in the last {days} days: every search through the API or the app is logged and "
                 "counted here when the marts run.")
    st.stop()

left, right = st.columns(2)
with left:
    st.markdown("**Searches per day**")
    st.altair_chart(alt.Chart(daily).mark_bar().encode(
        x=alt.X("search_date:T", title=None), y=alt.Y("searches:Q", title=None),
        tooltip=["search_date:T", "searches:Q", "searchers:Q", "zero_result_searches:Q"]).properties(height=260),
        width="stretch")
with right:
    st.markdown("**Search time per day (ms)**")
    st.altair_chart(charts.lines(daily, x="search_date", series=["avg_latency_ms", "p95_latency_ms"],
                                 titles={"avg_latency_ms": "average", "p95_latency_ms": "p95"}, y_title="ms"),
                    width="stretch")

st.markdown("**Click-through rate by result position**")
if positions.empty:
    states.empty("No clicked results in this window.")
else:
    st.altair_chart(charts.bars(positions.assign(position=positions["position"].astype(str)), x="position",
                                y="click_through_rate", x_title="position", y_title="clicks per search",
                                y_format=".1%", sort=positions["position"].astype(str).tolist()), width="stretch")

tab_top, tab_zero, tab_refine, tab_popular = st.tabs(["Top searches", "Zero-result searches", "Refinements",
                                                      "Popular queries"])
with tab_top:
    if top.empty:
        states.empty("No typed queries in this window.")
    else:
        table(top, name="search_top_queries", key="search_top",
              column_config={"click_through_rate": st.column_config.NumberColumn(format="percent")})
with tab_zero:
    if zero.empty:
        states.empty("Every query found something in this window.")
    else:
        table(zero, name="search_zero_result_queries", key="search_zero")
with tab_refine:
    st.caption("The next, different query by the same person within 5 minutes.")
    if refinements.empty:
        states.empty("Nobody rephrased a search in this window.")
    else:
        table(refinements, name="search_refinements", key="search_refinements")
with tab_popular:
    st.caption("What suggestions offer as people type, most searched first (all time).")
    if popular.empty:
        states.empty("No popular queries yet.")
    else:
        table(popular, name="search_popular_queries", key="search_popular")

"""Forecast: pipeline / best case / commit / closed for this month, quarter or year, by owner and team,
and how accurate past forecasts were."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboards.components import charts, session, states
from dashboards.components.formatting import money
from dashboards.components.tables import table
from dashboards.data import forecast
from dashboards.data.db import DataUnavailable

TITLES = {"pipeline": "Pipeline", "best_case": "Best case", "commit": "Commit", "closed": "Closed won"}

user = session.current()
org = user.organization_id
st.title("Forecast")

c1, c2 = st.columns([2, 1])
period = c1.segmented_control("Period", list(forecast.PERIODS), format_func=forecast.PERIODS.get, default="quarter",
                              key="forecast_period") or "quarter"
mode = c2.radio("Amounts", ["Unweighted", "Weighted"], horizontal=True, key="forecast_mode",
                help="Weighted = amount × the deal's probability (won deals count in full).")
weighted = mode == "Weighted"

try:
    summary = forecast.summary(org, period)
except DataUnavailable as exc:
    states.unavailable(exc)
    st.stop()

if summary.empty:
    states.empty("No forecast yet: it is built from deals with a close date in the period once the marts run "
                 "(`revorc materialize`).")
    st.stop()

first = summary.iloc[0]
st.caption(f"{forecast.PERIODS[period]}: {first['period_start']} to {first['period_end']} (exclusive), "
           f"as of {first['as_of_date']}. Categories follow the deal's probability band unless set by hand.")
value = "weighted_amount" if weighted else "amount"
columns = st.columns(len(forecast.CATEGORIES))
for column, row in zip(columns, summary.itertuples(), strict=True):
    column.metric(TITLES[row.forecast_category], money(getattr(row, value)), f"{row.deal_count:,} deals",
                  delta_color="off", delta_arrow="off", border=True)

chart_frame = summary.assign(category=summary["forecast_category"].map(TITLES).astype(str))
long = chart_frame.melt(id_vars=["category"], value_vars=["amount", "weighted_amount"], var_name="measure")
long["measure"] = long["measure"].map({"amount": "unweighted", "weighted_amount": "weighted"})
left, right = st.columns([1, 1])
with left:
    st.markdown("**Weighted vs unweighted by category**")
    st.altair_chart(alt.Chart(long).mark_bar().encode(
        x=alt.X("category:N", sort=[TITLES[c] for c in forecast.CATEGORIES], title=None),
        xOffset="measure:N", y=alt.Y("value:Q", title="$", axis=alt.Axis(format="~s")),
        color=alt.Color("measure:N", legend=alt.Legend(orient="bottom", title=None)),
        tooltip=["category:N", "measure:N", alt.Tooltip("value:Q", format=",.0f")]).properties(height=260),
        width="stretch")
with right:
    st.markdown("**Forecast table**")
    table(chart_frame[["category", "deal_count", "amount", "weighted_amount"]], name=f"forecast_{period}",
          key="forecast_summary", column_config={"amount": st.column_config.NumberColumn(format="dollar"),
                                                 "weighted_amount": st.column_config.NumberColumn(format="dollar")})

tab_owner, tab_team = st.tabs(["By owner", "By team"])
for tab, dimension in ((tab_owner, "owner"), (tab_team, "team")):
    with tab:
        frame = forecast.by_dimension(org, dimension, period, weighted)
        if frame.empty:
            states.empty(f"No deals with an {dimension} close in this period.")
            continue
        frame = frame.rename(columns={c: TITLES.get(c, c) for c in frame.columns})
        money_columns = {c: st.column_config.NumberColumn(format="dollar") for c in frame.columns if c != "name"}
        table(frame, name=f"forecast_by_{dimension}_{period}", key=f"forecast_{dimension}", column_config=money_columns)

st.subheader("Historical accuracy")
accuracy = forecast.accuracy(org, period)
if accuracy.empty:
    states.empty("Accuracy needs forecast snapshots: one is kept each day the marts run, and it is scored "
                 "against what actually closed.")
else:
    closed = accuracy[accuracy["period_closed"]]
    a1, a2, a3 = st.columns(3)
    a1.metric("Snapshots", f"{len(accuracy):,}")
    latest = accuracy.iloc[-1]
    a2.metric("Latest commit accuracy", f"{latest['commit_accuracy_pct']}%" if latest["commit_accuracy_pct"]
              is not None else "—", help="100 − |commit − actual| / actual × 100, floored at 0")
    a3.metric("Closed periods scored", f"{len(closed):,}")
    st.altair_chart(charts.lines(accuracy, x="snapshot_date",
                                 series=["commit_forecast", "weighted_forecast", "actual_won_amount"],
                                 titles={"commit_forecast": "commit forecast", "weighted_forecast": "weighted forecast",
                                         "actual_won_amount": "actual won"}, y_title="$", y_format="~s"),
                    width="stretch")
    table(accuracy, name=f"forecast_accuracy_{period}", key="forecast_accuracy")

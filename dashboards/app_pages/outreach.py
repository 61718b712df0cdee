"""Outreach analytics: template and cadence performance, best time to send, channels, A/B significance."""

from __future__ import annotations

from datetime import date, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from dashboards.analysis.ab_test import two_proportion_test
from dashboards.components import charts, session, states
from dashboards.components.formatting import pct
from dashboards.components.tables import table
from dashboards.data import outreach
from dashboards.data.db import DataUnavailable

RATES = {"open_rate": "opened", "click_rate": "clicked", "reply_rate": "replied"}
RATE_COLUMNS = {c: st.column_config.NumberColumn(format="percent") for c in
                ("open_rate", "click_rate", "reply_rate", "bounce_rate")}

user = session.current()
org = user.organization_id
st.title("Outreach analytics")

today = date.today()
picked = st.date_input("Date range", (today - timedelta(days=89), today), max_value=today, key="outreach_dates")
date_from, date_to = picked if isinstance(picked, tuple) and len(picked) == 2 else (picked[0], picked[0])

try:
    templates = outreach.performance(org, "template", date_from, date_to)
    cadences = outreach.performance(org, "cadence", date_from, date_to)
    send_times = outreach.send_times(org, date_from, date_to)
    channels = outreach.channels(org, date_from, date_to)
except DataUnavailable as exc:
    states.unavailable(exc)
    st.stop()

tab_templates, tab_cadences, tab_time, tab_channels, tab_ab = st.tabs(
    ["Templates", "Cadences", "Best time to send", "Channels", "A/B tests"])

for tab, frame, what in ((tab_templates, templates, "template"), (tab_cadences, cadences, "cadence")):
    with tab:
        if frame.empty:
            states.empty(f"No e-mails sent from a {what} in this range yet. Sends through cadences and templates "
                         f"carry their ids to SendGrid, and their events appear here after the next pipeline run.")
            continue
        st.altair_chart(alt.Chart(frame.melt(id_vars=["name"], value_vars=list(RATES), var_name="rate")).mark_bar()
                        .encode(x=alt.X("name:N", title=None), xOffset="rate:N",
                                y=alt.Y("value:Q", axis=alt.Axis(format=".0%"), title=None),
                                color=alt.Color("rate:N", legend=alt.Legend(orient="bottom", title=None)),
                                tooltip=["name:N", "rate:N", alt.Tooltip("value:Q", format=".1%")])
                        .properties(height=260), width="stretch")
        table(frame, name=f"{what}_performance", key=f"outreach_{what}", column_config=RATE_COLUMNS)

with tab_time:
    if send_times.empty:
        states.empty("No e-mails sent in this range yet.")
    else:
        measure = st.radio("Colour by", ["open_rate", "reply_rate", "sent"], horizontal=True, key="outreach_measure",
                           format_func={"open_rate": "open rate", "reply_rate": "reply rate", "sent": "sends"}.get)
        st.altair_chart(charts.heatmap(send_times, x="hour", y="weekday_name", value=measure,
                                       y_sort=list(outreach.WEEKDAYS.values()),
                                       value_format=",.0f" if measure == "sent" else ".0%"), width="stretch")
        best = send_times[send_times["sent"] >= max(5, send_times["sent"].quantile(0.25))]
        if not best.empty:
            top = best.sort_values("open_rate", ascending=False).iloc[0]
            st.caption(f"Best slot with enough sends: {top['weekday_name']} {int(top['hour']):02d}:00 UTC — "
                       f"{pct(top['open_rate'])} opened over {int(top['sent']):,} sends.")
        table(send_times, name="send_times", key="outreach_times", column_config=RATE_COLUMNS)

with tab_channels:
    if channels["touches"].sum() == 0:
        states.empty("No touches logged in this range yet.")
    else:
        st.altair_chart(charts.bars(channels, x="channel", y="touches", color="channel", x_title=None,
                                    y_title="touches"), width="stretch")
        table(channels, name="channels", key="outreach_channels",
              column_config={"response_rate": st.column_config.NumberColumn(format="percent")})
        st.caption("Responses are measured for e-mail (replies over delivered); calls, LinkedIn and SMS log touches.")

with tab_ab:
    if len(templates) < 2:
        states.empty("An A/B comparison needs two templates with sends in this range.")
    else:
        names = templates["name"].tolist()
        c1, c2, c3 = st.columns(3)
        a = c1.selectbox("Variant A", names, index=0, key="outreach_ab_a")
        b = c2.selectbox("Variant B", names, index=1, key="outreach_ab_b")
        rate = c3.selectbox("Metric", list(RATES), format_func=lambda r: r.replace("_", " "), key="outreach_ab_rate")
        row_a, row_b = (templates[templates["name"] == n].iloc[0] for n in (a, b))
        result = two_proportion_test(int(row_a[RATES[rate]]), int(row_a["delivered"]),
                                     int(row_b[RATES[rate]]), int(row_b["delivered"]))
        r1, r2, r3, r4 = st.columns(4)
        r1.metric(f"A: {rate.replace('_', ' ')}", pct(result.rate_a), f"{int(row_a['delivered']):,} delivered",
                  delta_color="off", delta_arrow="off")
        r2.metric(f"B: {rate.replace('_', ' ')}", pct(result.rate_b), f"{int(row_b['delivered']):,} delivered",
                  delta_color="off", delta_arrow="off")
        r3.metric("Lift of B over A", pct(result.lift))
        r4.metric("p-value", f"{result.p_value:.4f}" if result.p_value is not None else "—")
        if result.reason:
            states.empty(f"No verdict: {result.reason}.")
        elif result.significant:
            st.success(f"Variant {result.winner} wins: the difference is significant at 95% "
                       f"(two-proportion z-test, z = {result.z:.2f}).")
        else:
            st.warning("No significant difference at 95% yet (two-proportion z-test); keep the test running.")
        intervals = pd.DataFrame([
            {"variant": f"A · {a}", "rate": result.rate_a, "low": result.interval_a[0], "high": result.interval_a[1]},
            {"variant": f"B · {b}", "rate": result.rate_b, "low": result.interval_b[0], "high": result.interval_b[1]},
        ]) if result.interval_a and result.interval_b else pd.DataFrame()
        if not intervals.empty:
            base = alt.Chart(intervals).encode(y=alt.Y("variant:N", title=None))
            st.altair_chart((base.mark_rule().encode(x=alt.X("low:Q", axis=alt.Axis(format=".0%"), title=None),
                                                     x2="high:Q")
                             + base.mark_point(filled=True, size=80).encode(x="rate:Q"))
                            .properties(height=120), width="stretch")
            st.caption("Points are the measured rates; lines are 95% Wilson intervals.")

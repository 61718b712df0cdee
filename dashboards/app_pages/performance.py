"""Performance (seed 7.1): activity, pipeline, e-mail and BDR metrics per user, team and date range, with trends."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from dashboards.components import charts, session, states
from dashboards.components.formatting import money, number, pct
from dashboards.components.tables import table
from dashboards.data import directory, performance
from dashboards.data.db import DataUnavailable

user = session.current()
org = user.organization_id
st.title("Performance")

try:
    teams, people = directory.teams(org), directory.users(org)
except DataUnavailable as exc:
    states.unavailable(exc)
    st.stop()

today = date.today()
with st.container(border=True):
    f1, f2, f3 = st.columns([1.2, 1, 1])
    picked = f1.date_input("Date range", (today - timedelta(days=89), today), max_value=today,
                           key="performance_dates")
    team_ids = f2.multiselect("Team", teams["team_id"].astype(str).tolist(), key="performance_team",
                              format_func=dict(zip(teams["team_id"].astype(str), teams["team_name"], strict=True)).get)
    pool = people if not team_ids else people[people["team_id"].astype(str).isin(team_ids)]
    user_ids = f3.multiselect("User", pool["user_id"].astype(str).tolist(), key="performance_user",
                              format_func=dict(zip(people["user_id"].astype(str), people["user_name"],
                                                   strict=True)).get)
date_from, date_to = (picked if isinstance(picked, tuple) and len(picked) == 2 else (picked[0], picked[0])
                      if isinstance(picked, tuple) else (picked, picked))
scope = {"team_ids": tuple(team_ids), "user_ids": tuple(user_ids)}

try:
    activity = performance.activity_totals(org, date_from, date_to, **scope)
    weekly = performance.activity_weekly(org, date_from, date_to, **scope)
    monthly = performance.pipeline_monthly(org, date_from, date_to, **scope)
    open_pipeline = performance.open_pipeline(org, **scope)
    email_daily = performance.email_daily(org, date_from, date_to, **scope)
except DataUnavailable as exc:
    states.unavailable(exc)
    st.stop()

st.subheader("Activity")
cols = st.columns(4)
for column, (key, title) in zip(cols, performance.ACTIVITY_TYPES.items(), strict=True):
    column.metric(title, f"{activity[key]:,}", border=True)
if weekly.empty:
    states.empty("No calls, e-mails, meetings or LinkedIn touches logged in this range.")
else:
    st.altair_chart(charts.lines(weekly, x="week", series=list(performance.ACTIVITY_TYPES),
                                 titles=performance.ACTIVITY_TYPES, y_title="per week"), width="stretch")
    with st.expander("Per user"):
        table(performance.activity_by_user(org, date_from, date_to, **scope), name="activity_by_user",
              key="performance_users")

st.subheader("Pipeline")
totals = performance.pipeline_totals(monthly)
p1, p2, p3, p4, p5 = st.columns(5)
p1.metric("Open pipeline", money(open_pipeline["open_pipeline"]), f"{open_pipeline['open_deals']:,} deals",
          delta_color="off", delta_arrow="off", border=True)
p2.metric("Pipeline created", money(totals["pipeline_created"]), f"{totals['deals_created']:,} deals",
          delta_color="off", delta_arrow="off", border=True)
p3.metric("Win rate", pct(totals["win_rate"]), border=True, help="won / (won + lost), by close month")
p4.metric("Average deal size", money(totals["avg_deal_size"]), border=True, help="average won amount")
p5.metric("Sales cycle", f"{number(totals['avg_sales_cycle_days'], 1)} days", border=True,
          help="created → won, average over won deals")
if monthly.empty:
    states.empty("No deals were created or closed in this range.")
else:
    left, right = st.columns(2)
    left.altair_chart(charts.lines(monthly, x="period_month", series=["pipeline_created_amount", "won_amount"],
                                   titles={"pipeline_created_amount": "pipeline created", "won_amount": "won"},
                                   y_title="$ per month", y_format="~s"), width="stretch")
    right.altair_chart(charts.lines(monthly, x="period_month", series=["win_rate"], titles={"win_rate": "win rate"},
                                    y_title="win rate", y_format=".0%"), width="stretch")
    with st.expander("Monthly pipeline metrics"):
        table(monthly.drop(columns=["cycle_day_sum"]), name="pipeline_monthly", key="performance_pipeline")

st.subheader("Email")
email = performance.email_totals(email_daily)
e1, e2, e3, e4, e5 = st.columns(5)
e1.metric("Sent", f"{email['sent']:,}", border=True)
e2.metric("Open rate", pct(email["open_rate"]), border=True)
e3.metric("Click rate", pct(email["click_rate"]), border=True)
e4.metric("Reply rate", pct(email["reply_rate"]), border=True)
e5.metric("Bounce rate", pct(email["bounce_rate"]), border=True)
st.caption("Rates are over delivered messages (bounces over sent); user and team filters apply to the prospects' "
           "owners.")
if email_daily.empty:
    states.empty("No e-mail events in this range yet.")
else:
    trend = email_daily.assign(open_rate=email_daily["opened"] / email_daily["delivered"].where(
        email_daily["delivered"] > 0), reply_rate=email_daily["replied"] / email_daily["delivered"].where(
        email_daily["delivered"] > 0))
    st.altair_chart(charts.lines(trend, x="event_date", series=["open_rate", "reply_rate"],
                                 titles={"open_rate": "open rate", "reply_rate": "reply rate"}, y_format=".0%"),
                    width="stretch")
    with st.expander("Daily e-mail funnel"):
        table(email_daily, name="email_daily", key="performance_email")

st.subheader("BDR agent")
try:  # the agent's own counts, for the same dates (the API, like the BDR console)
    bdr = session.api_call("GET", "/bdr/performance", token=user.token,
                           params={"since": date_from.isoformat(), "until": date_to.isoformat()})
except session.ApiError as exc:
    st.caption(f":orange[Unavailable: {exc.message}]")
    bdr = None
if bdr is not None and not bdr["leadsContacted"] and not bdr["daily"]:
    states.empty("The BDR agent has not contacted anyone in these dates: prospects contacted, meetings booked, "
                 "handoff rate and response rate appear here once it does.")
elif bdr is not None:
    b1, b2, b3, b4 = st.columns(4)
    b1.metric("Leads contacted", number(bdr["leadsContacted"]))
    b2.metric("Meetings booked", number(bdr["meetingsBooked"]))
    b3.metric("Handoff rate", pct(bdr["handoffRate"]))
    b4.metric("Response rate", pct(bdr["responseRate"]))
    if bdr["daily"]:
        days = pd.DataFrame(bdr["daily"]).assign(day=lambda f: pd.to_datetime(f["day"]))
        st.altair_chart(charts.lines(days, x="day", series=["contacted", "replies", "handoffs", "meetings"]),
                        width="stretch")
    st.page_link("app_pages/bdr.py", label="Open the BDR console", icon=":material/smart_toy:")

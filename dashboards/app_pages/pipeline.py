"""Pipeline board: deals by stage with value and count, filters, a deal's health and timeline, stage moves."""

from __future__ import annotations

from datetime import date

import streamlit as st

from dashboards.components import charts, session, states
from dashboards.components.formatting import money, pct
from dashboards.components.tables import table
from dashboards.data import directory, pipeline
from dashboards.data.db import DataUnavailable

STAGE_TITLES = {s: s.replace("_", " ").title() for s in pipeline.STAGES}
CARDS_PER_COLUMN = 6
FLASH = "pipeline_flash"

user = session.current()
org = user.organization_id
st.title("Pipeline")


def move_deal(deal_id: str, deal_name: str, new_stage: str) -> None:
    """Through the API as the signed-in user (it checks the role and records the stage-change activity)."""
    try:
        session.api_call("PUT", f"/deals/{deal_id}", token=user.token, json={"stage": new_stage})
    except session.ApiError as exc:
        st.session_state[FLASH] = ("error", f"Could not move {deal_name}: {exc.message}")
    else:
        pipeline.clear()
        st.session_state[FLASH] = ("success", f"Moved {deal_name} to {STAGE_TITLES[new_stage]}.")


try:
    teams, people = directory.teams(org), directory.users(org)
    low, high = pipeline.amount_range(org)
except DataUnavailable as exc:
    states.unavailable(exc)
    st.stop()

with st.container(border=True):
    f1, f2, f3, f4 = st.columns([1, 1, 1, 1.3])
    team_ids = f1.multiselect("Team", teams["team_id"].astype(str).tolist(), key="pipeline_team",
                              format_func=dict(zip(teams["team_id"].astype(str), teams["team_name"], strict=True)).get)
    owner_pool = people if not team_ids else people[people["team_id"].astype(str).isin(team_ids)]
    owner_ids = f2.multiselect("Owner", owner_pool["user_id"].astype(str).tolist(), key="pipeline_owner",
                               format_func=dict(zip(people["user_id"].astype(str), people["user_name"],
                                                    strict=True)).get)
    period = f3.selectbox("Close period", list(pipeline.CLOSE_PERIODS), key="pipeline_period",
                          format_func=pipeline.CLOSE_PERIODS.get)
    top = max(float(high), 1.0)
    min_amount, max_amount = f4.slider("Amount", 0.0, top, (0.0, top), step=max(top / 100, 1.0),
                                       key="pipeline_amount", format="$%.0f")
close_from, close_to = pipeline.period_bounds(period, date.today())
filters = {"team_ids": tuple(team_ids), "owner_ids": tuple(owner_ids), "close_from": close_from,
           "close_to": close_to, "min_amount": float(min_amount), "max_amount": float(max_amount)}

if FLASH in st.session_state:
    kind, message = st.session_state.pop(FLASH)
    (st.success if kind == "success" else st.error)(message)

try:
    totals = pipeline.stage_totals(org, **filters)
    deals = pipeline.deals(org, **filters)
except DataUnavailable as exc:
    states.unavailable(exc)
    st.stop()

if deals.empty:
    states.empty("No deals match these filters yet. Deals appear here once they are created in the CRM "
                 "or imported (the demo loads the Maven CRM export).")
    st.stop()

open_totals = totals[totals["stage"].isin(pipeline.OPEN_STAGES)]
m1, m2, m3, m4 = st.columns(4)
m1.metric("Open pipeline", money(open_totals["total_amount"].sum()), border=True)
m2.metric("Open deals", f"{int(open_totals['deal_count'].sum()):,}", border=True)
won = totals.set_index("stage").loc["closed_won"]
lost = totals.set_index("stage").loc["closed_lost"]
m3.metric("Won", money(won["total_amount"]), f"{int(won['deal_count']):,} deals", delta_color="off",
          delta_arrow="off", border=True)
closed = won["deal_count"] + lost["deal_count"]
m4.metric("Win rate (closed deals)", pct(won["deal_count"] / closed if closed else None), border=True)

st.subheader("Board")
columns = st.columns(len(pipeline.STAGES))
for column, row in zip(columns, totals.itertuples(), strict=True):
    with column:
        st.markdown(f"**{STAGE_TITLES[row.stage]}**")
        st.metric(f"{STAGE_TITLES[row.stage]} value", money(row.total_amount), f"{row.deal_count:,} deals",
                  delta_color="off", delta_arrow="off", label_visibility="collapsed")
        stage_deals = deals[deals["stage"] == row.stage].head(CARDS_PER_COLUMN)
        for deal in stage_deals.itertuples():
            with st.container(border=True):
                risk = f" · risk {int(deal.risk_score)}" if deal.risk_score == deal.risk_score and \
                    deal.risk_score is not None else ""
                st.markdown(f"**{deal.deal_name}**  \n{money(deal.amount)} · {deal.owner_name or 'unassigned'}"
                            f"  \n:gray[close {deal.close_date or '—'}{risk}]")
        hidden = row.deal_count - len(stage_deals)
        if hidden > 0:
            st.caption(f"+ {hidden:,} more in the table below")

st.altair_chart(charts.bars(totals.assign(stage_title=totals["stage"].map(STAGE_TITLES)), x="stage_title",
                            y="total_amount", color="stage", x_title=None, y_title="value ($)",
                            sort=[STAGE_TITLES[s] for s in pipeline.STAGES], scale=charts.STAGE_COLORS, height=220),
                width="stretch")

st.subheader("Deals")
table(deals, name="pipeline_deals", key="pipeline_deals", link="deal_id",
      column_config={"amount": st.column_config.NumberColumn(format="dollar"),
                     "probability": st.column_config.NumberColumn(format="%d%%")})

st.subheader("Deal drill-down")
labels = dict(zip(deals["deal_id"].astype(str), deals["deal_name"] + " · " + deals["stage"].map(STAGE_TITLES),
                  strict=True))
deal_id = st.selectbox("Deal", list(labels), format_func=labels.get, key="pipeline_deal")
if deal_id:
    detail = pipeline.deal(org, deal_id)
    if detail.empty:
        states.empty("This deal is no longer visible (deleted, or moved out of your organization).")
        st.stop()
    d = detail.iloc[0]
    left, right = st.columns([1, 1])
    with left:
        st.markdown(f"### {d['deal_name']}")
        st.markdown(f"{d['account_name'] or 'No account'} · owner **{d['owner_name'] or 'unassigned'}** · "
                    f"team {d['team_name'] or '—'}")
        c1, c2, c3 = st.columns(3)
        c1.metric("Amount", money(d["amount"]))
        c2.metric("Stage", STAGE_TITLES.get(d["stage"], d["stage"]))
        c3.metric("Close date", str(d["close_date"] or "—"))
        h1, h2, h3 = st.columns(3)
        has_health = d["risk_score"] is not None and d["risk_score"] == d["risk_score"]
        h1.metric("Deal risk", f"{int(d['risk_score'])}/100 ({d['risk_level']})" if has_health else "—")
        h2.metric("Days in stage", f"{float(d['days_in_stage']):.0f}" if has_health else "—",
                  help="vs the median for this stage: "
                       + (f"{float(d['median_days_in_stage']):.0f}" if has_health and d["median_days_in_stage"]
                          is not None else "n/a"))
        health = d["account_health_score"]
        h3.metric("Account health", f"{int(health)}/100 ({d['account_health_tier']})"
                  if health is not None and health == health else "—")
        if has_health:
            reasons = list(d["risk_reasons"] or [])
            if reasons:
                st.markdown("**Risk reasons**")
                st.markdown("\n".join(f"- {r.replace('_', ' ')}" for r in reasons))
            else:
                st.markdown("**Risk reasons:** none")
            st.caption(f"Health as of {d['health_as_of']} (rebuilt with the marts).")
        else:
            st.caption("Health is computed for open deals when the marts are rebuilt.")
        with st.container(border=True):
            stages = [s for s in pipeline.STAGES if s != d["stage"]]
            new_stage = st.selectbox("Move to stage", stages, format_func=STAGE_TITLES.get, key="pipeline_new_stage")
            if not user.can_write:
                st.caption("Viewers cannot move deals.")
            if st.button("Move deal", type="primary", disabled=not user.can_write, key="pipeline_move"):
                move_deal(deal_id, d["deal_name"], new_stage)
                st.rerun()
    with right:
        st.markdown("**Activity timeline**")
        timeline = pipeline.timeline(org, deal_id)
        if timeline.empty:
            states.empty("No activities recorded on this deal yet.")
        else:
            table(timeline, name="deal_timeline", key="pipeline_timeline", height=300)
        durations = pipeline.stage_durations(org, deal_id)
        if not durations.empty:
            st.markdown("**Time in stage**")
            table(durations, name="deal_stage_durations", key="pipeline_durations")

"""Intent: who is showing buying intent, how it is distributed, what spiked this week and which signals drive it."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboards.components import charts, session, states
from dashboards.components.tables import table
from dashboards.data import intent
from dashboards.data.db import DataUnavailable

user = session.current()
org = user.organization_id
st.title("Intent")

c1, c2 = st.columns([2, 1])
tiers = c1.multiselect("Tiers", intent.TIERS, default=intent.TIERS, key="intent_tiers")
limit = c2.slider("Rows", 10, 100, 25, step=5, key="intent_limit")

try:
    counts = intent.tier_counts(org)
    prospects = intent.top_prospects(org, tuple(tiers), limit)
    accounts = intent.top_accounts(org, tuple(tiers), limit)
    spikes = intent.spikes(org)
    signals = intent.signals_by_type(org)
except DataUnavailable as exc:
    states.unavailable(exc)
    st.stop()

if counts.empty:
    states.empty("No intent scores yet: they are computed from intent signals (website visits, LinkedIn, job "
                 "postings, funding, news…) when the marts run.")
    st.stop()

by_tier = counts.pivot_table(index="intent_tier", columns="entity_type", values="entities", aggfunc="sum",
                             fill_value=0).reindex(intent.TIERS, fill_value=0)
cols = st.columns(4)
for column, tier in zip(cols, intent.TIERS, strict=True):
    column.metric(f"{tier.title()} prospects", f"{int(by_tier.loc[tier].get('prospect', 0)):,}",
                  f"{int(by_tier.loc[tier].get('account', 0)):,} accounts", delta_color="off", delta_arrow="off",
                  border=True)

left, right = st.columns(2)
with left:
    st.markdown("**Tier distribution**")
    st.altair_chart(alt.Chart(counts).mark_bar().encode(
        x=alt.X("intent_tier:N", sort=intent.TIERS, title=None), xOffset="entity_type:N",
        y=alt.Y("entities:Q", title=None, scale=alt.Scale(type="symlog")),
        color=alt.Color("entity_type:N", legend=alt.Legend(orient="bottom", title=None)),
        tooltip=["entity_type:N", "intent_tier:N", "entities:Q"]).properties(height=260), width="stretch")
with right:
    st.markdown("**Signals in the last 30 days, by type**")
    if signals.empty:
        states.empty("No intent signals in the last 30 days.")
    else:
        st.altair_chart(charts.bars(signals, x="signal_type", y="signals", color="signal_type", x_title=None,
                                    y_title="signals"), width="stretch")
        table(signals, name="intent_signals_by_type", key="intent_signals")

st.subheader("Spikes in the last 7 days")
if spikes.empty:
    states.empty("Nobody spiked this week (a spike is a score at least 20 above its 28-day baseline).")
else:
    table(spikes, name="intent_spikes", key="intent_spikes")

spark = st.column_config.LineChartColumn("last 30 days", y_min=0, y_max=100)
tab_p, tab_a = st.tabs(["Top prospects", "Top accounts"])
with tab_p:
    if prospects.empty:
        states.empty("No prospects in these tiers.")
    else:
        lines = intent.sparklines(org, "prospect", tuple(prospects["prospect_id"].astype(str)))
        prospects["trend_30d"] = prospects["prospect_id"].astype(str).map(lambda k: lines.get(k, []))
        table(prospects, name="intent_top_prospects", key="intent_prospects", link="prospect_id",
              column_config={"trend_30d": spark})
with tab_a:
    if accounts.empty:
        states.empty("No accounts in these tiers.")
    else:
        lines = intent.sparklines(org, "account", tuple(accounts["account_id"].astype(str)))
        accounts["trend_30d"] = accounts["account_id"].astype(str).map(lambda k: lines.get(k, []))
        table(accounts, name="intent_top_accounts", key="intent_accounts", link="account_id",
              column_config={"trend_30d": spark})

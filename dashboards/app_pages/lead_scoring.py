"""Lead scoring: the champion model's card, calibration, lift by decile, score distribution and drift, and why a
prospect scored what it did. Empty until the lead-scoring pipeline has trained and scored."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboards.components import charts, session, states
from dashboards.components.formatting import number
from dashboards.components.tables import table
from dashboards.data import lead_scoring
from dashboards.data.db import DataUnavailable

user = session.current()
org = user.organization_id
st.title("Lead scoring")

try:
    present = lead_scoring.available(org)
    champion = lead_scoring.champion(org)
except DataUnavailable as exc:
    states.unavailable(exc)
    st.stop()

st.subheader("Champion model")
if champion is None:
    states.empty("No lead-scoring model yet. Once the `ml` assets have trained a model and promoted a champion, its "
                 "model card, calibration and lift appear here."
                 if lead_scoring.MODELS in present else
                 "Lead scoring is not set up yet: the model registry table (`app.ml_models`) does not exist. It comes "
                 "with the lead-scoring pipeline; until then priorities come from intent and engagement.")
else:
    m = champion.metrics
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.metric("Version", champion.version or "—", champion.family, delta_color="off", delta_arrow="off", border=True)
    c2.metric("ROC-AUC", number(m.get("roc_auc"), 3), border=True)
    c3.metric("PR-AUC", number(m.get("pr_auc"), 3), border=True)
    c4.metric("Brier", number(m.get("brier"), 3), border=True)
    c5.metric("Top-decile lift", number(m.get("top_decile_lift"), 2), border=True)
    st.caption(f"Trained {champion.created_at or '—'} · rows {champion.rows or '—'} · window "
               f"{champion.data_window or '—'}")
    left, right = st.columns(2)
    with left:
        st.markdown("**Calibration**")
        if champion.calibration.empty:
            states.empty("The model card has no calibration table.")
        else:
            points = alt.Chart(champion.calibration).mark_line(point=True).encode(
                x=alt.X("mean_predicted:Q", title="predicted", scale=alt.Scale(domain=[0, 1])),
                y=alt.Y("observed_rate:Q", title="observed", scale=alt.Scale(domain=[0, 1])),
                tooltip=["mean_predicted:Q", "observed_rate:Q", "rows:Q"])
            st.altair_chart((charts.diagonal_reference() + points).properties(height=280), width="stretch")
    with right:
        st.markdown("**Lift by decile** (1 = top 10%)")
        if champion.deciles.empty:
            states.empty("The model card has no decile table.")
        else:
            st.altair_chart(charts.bars(champion.deciles.assign(decile=champion.deciles["decile"].astype(str)),
                                        x="decile", y="lift", y_format=".2f", x_title="decile", y_title="lift",
                                        sort=[str(i) for i in range(1, 11)]), width="stretch")
            table(champion.deciles, name="lift_by_decile", key="lead_deciles")

st.subheader("Score distribution and drift")
history = lead_scoring.score_history(org)
if history is None or history.empty:
    states.empty("No daily lead scores yet (`lead_score_history`): the distribution and its drift over time "
                 "appear once prospects are scored.")
else:
    latest = history[history["score_date"] == history["score_date"].max()]
    st.altair_chart(charts.bars(latest.assign(bucket=latest["bucket"].astype(str)), x="bucket", y="prospects",
                                x_title="score decile", y_title="prospects"), width="stretch")
    daily = history.groupby("score_date", as_index=False).apply(
        lambda g: (g["avg_score"] * g["prospects"]).sum() / g["prospects"].sum(), include_groups=False)
    daily.columns = ["score_date", "avg_score"]
    st.altair_chart(charts.lines(daily, x="score_date", series=["avg_score"], titles={"avg_score": "average score"},
                                 y_title="score"), width="stretch")
    table(history, name="lead_score_history", key="lead_history")

st.subheader("Why did a prospect score what it did?")
email = st.text_input("Prospect e-mail", key="lead_email", placeholder="name@company.com")
if email:
    found = lead_scoring.explanations(org, email)
    if found is None:
        states.empty("Explanations are logged with each prediction (`ai_predictions`), which does not exist yet.")
    elif found.empty:
        states.empty(f"No scored prediction for {email} in your organization.")
    else:
        table(found, name="lead_explanations", key="lead_explanations")

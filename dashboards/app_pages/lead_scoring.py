"""Lead scoring: the champion model's card, calibration, lift by decile, score distribution and drift, the version
history, and why a prospect scored what it did. Empty until the `ml` assets have trained and promoted a model."""

from __future__ import annotations

import altair as alt
import pandas as pd
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
    registry = lead_scoring.models(org)
    champion = lead_scoring.champion(org)
except DataUnavailable as exc:
    states.unavailable(exc)
    st.stop()

st.subheader("Champion model")
if champion is None:
    states.empty("No champion lead-scoring model yet. The `ml` assets train one nightly once your organization has "
                 "enough labelled history (at least 200 prospect snapshots, 20 conversions, 4 snapshot dates); "
                 "a model is promoted when it clears the ROC-AUC floor, or by an admin "
                 "(`POST /api/v1/scoring/models/{version}/promote`)."
                 if registry.empty else
                 f"{len(registry)} model version(s) trained, none is champion: see the version history below "
                 "for why, or promote one through the API.")
else:
    m = champion.metrics
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.metric("Version", champion.version or "—", champion.family, delta_color="off", delta_arrow="off", border=True)
    c2.metric("ROC-AUC", number(m.get("roc_auc"), 3), border=True)
    c3.metric("PR-AUC", number(m.get("pr_auc"), 3), border=True)
    c4.metric("Brier", number(m.get("brier"), 3), border=True)
    c5.metric("Top-decile lift", number(m.get("top_decile_lift"), 2), border=True)
    window = champion.data_window or {}
    parts = [f"trained {champion.created_at or '—'}", f"promoted {champion.promoted_at or '—'}"]
    parts += [f"{name} {w.get('min')} → {w.get('max')} ({champion.rows.get(name, '—')} rows)"
              for name, w in window.items() if isinstance(w, dict)]
    st.caption(" · ".join(parts))
    if champion.decision:
        st.caption(f"Why champion: {champion.decision}")
    if champion.dropped_features:
        st.caption("Not used (no values in the training window): " + ", ".join(champion.dropped_features))
    left, right = st.columns(2)
    with left:
        st.markdown("**Calibration** (validation window; on the diagonal = probabilities you can trust)")
        if champion.calibration.empty:
            states.empty("The model card has no calibration table.")
        else:
            top = float(max(champion.calibration["mean_predicted"].max(), champion.calibration["observed_rate"].max()))
            domain = [0, min(1.0, max(0.1, top * 1.2))]
            points = alt.Chart(champion.calibration).mark_line(point=True).encode(
                x=alt.X("mean_predicted:Q", title="predicted probability", scale=alt.Scale(domain=domain)),
                y=alt.Y("observed_rate:Q", title="observed conversion rate", scale=alt.Scale(domain=domain)),
                tooltip=["mean_predicted:Q", "observed_rate:Q", "rows:Q"])
            st.altair_chart((charts.diagonal_reference() + points).properties(height=280), width="stretch")
    with right:
        st.markdown("**Lift by decile** (1 = the top-scored 10 %)")
        if champion.deciles.empty:
            states.empty("The model card has no decile table.")
        else:
            st.altair_chart(charts.bars(champion.deciles.assign(decile=champion.deciles["decile"].astype(str)),
                                        x="decile", y="lift", y_format=".2f", x_title="decile", y_title="lift",
                                        sort=[str(i) for i in range(1, 11)]), width="stretch")
    if not champion.deciles.empty:
        table(champion.deciles, name="lift_by_decile", key="lead_deciles")

st.subheader("Score distribution and drift")
distribution = lead_scoring.score_distribution(org)
if distribution.empty:
    states.empty("No daily lead scores yet (`lead_score_history`): the distribution and its drift appear once the "
                 "champion has scored your prospects.")
else:
    latest_day = distribution["score_date"].max()
    latest = distribution[distribution["score_date"] == latest_day]
    bands = [f"{b}–{b + 9}" for b in range(0, 100, 10)]
    left, right = st.columns(2)
    with left:
        st.markdown(f"**Prospects by score band** ({latest_day})")
        st.altair_chart(charts.bars(latest.assign(band=latest["bucket"].map(lambda b: f"{int(b)}–{int(b) + 9}")),
                                    x="band", y="prospects", x_title="score", y_title="prospects", sort=bands),
                        width="stretch")
    with right:
        st.markdown("**Drift** (population stability index vs the training window)")
        drift = (lead_scoring.drift_by_day(lead_scoring.daily_scores(org, champion.version),
                                           reference=champion.reference)
                 if champion and champion.version else pd.DataFrame())
        if drift.empty:
            states.empty(f"Drift needs the champion's training distribution and at least "
                         f"{lead_scoring.MIN_DRIFT_ROWS} prospects scored by it on a day.")
        else:
            latest_psi = float(drift["psi"].iloc[-1])
            reading = ("stable" if latest_psi < lead_scoring.PSI_MODERATE else
                       "moderate shift" if latest_psi < lead_scoring.PSI_LARGE else "large shift: retrain")
            st.metric("PSI (latest day)", number(latest_psi, 3), reading, delta_color="off", delta_arrow="off",
                      border=True)
            rules = alt.Chart(pd.DataFrame({"psi": [lead_scoring.PSI_MODERATE, lead_scoring.PSI_LARGE]})).mark_rule(
                strokeDash=[4, 4], color="#e76f51").encode(y="psi:Q")
            st.altair_chart(charts.lines(drift, x="score_date", series=["psi"], titles={"psi": "PSI"},
                                         y_title="PSI", y_format=".2f") + rules, width="stretch")
    table(distribution, name="lead_score_distribution", key="lead_distribution")

st.subheader("Model versions")
if registry.empty:
    states.empty("No model version registered yet.")
else:
    table(lead_scoring.versions_table(registry), name="lead_scoring_models", key="lead_models")

st.subheader("Why did a prospect score what it did?")
email = st.text_input("Prospect e-mail", key="lead_email", placeholder="name@company.com")
if email:
    found = lead_scoring.explanations(org, email)
    if found.empty:
        states.empty(f"No scored prediction for {email} in your organization.")
    else:
        latest = found.iloc[0]
        st.metric("Score", number(latest["score"]), f"{latest['tier']} · model {latest['model_version']}",
                  delta_color="off", delta_arrow="off", border=True)
        factors = lead_scoring.factors_table(found)
        if factors.empty:
            states.empty("This prediction carries no factor explanations.")
        else:
            st.altair_chart(alt.Chart(factors).mark_bar().encode(
                x=alt.X("impact:Q", title="points"), y=alt.Y("text:N", sort="-x", title=None),
                color=alt.condition("datum.impact > 0", alt.value("#2a9d8f"), alt.value("#e76f51")),
                tooltip=["text:N", "impact:Q"]).properties(height=40 + 28 * len(factors)), width="stretch")
            table(factors, name="lead_factors", key="lead_factors")
        table(found.drop(columns=["top_factors"]), name="lead_predictions", key="lead_predictions")

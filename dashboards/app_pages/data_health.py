"""Data health: when each asset last materialized and whether it is fresh, dbt test results, row counts and
rejected landing records for your organization."""

from __future__ import annotations

import streamlit as st

from dashboards.components import charts, session, states
from dashboards.components.tables import table
from dashboards.data import data_health
from dashboards.data.db import DataUnavailable

user = session.current()
org = user.organization_id
st.title("Data health")

st.subheader("Assets")
try:
    assets = data_health.materializations()
except Exception as exc:  # the Dagster instance is a separate store: show why, keep the rest of the page
    st.warning(f"The Dagster instance in {data_health.dagster_home()} could not be read: {exc}")
    assets = None
if assets is not None:
    if assets.empty:
        states.empty("Nothing has been materialized yet: run `revorc materialize` (or open the Dagster UI).")
    else:
        fresh = int((assets["freshness"] == "fresh").sum())
        a1, a2, a3 = st.columns(3)
        a1.metric("Assets", f"{len(assets):,}", border=True)
        a2.metric(f"Fresh (≤ {data_health.FRESH_HOURS} h)", f"{fresh:,}", border=True)
        a3.metric("Stale or never", f"{len(assets) - fresh:,}", border=True)
        table(assets, name="asset_freshness", key="health_assets")

st.subheader("dbt tests and asset checks")
try:
    checks = data_health.check_results()
except Exception as exc:
    st.warning(f"Asset check results could not be read: {exc}")
    checks = None
if checks is not None:
    if checks.empty:
        states.empty("No checks have run yet.")
    else:
        failed = checks[~checks["passed"]]
        c1, c2, c3 = st.columns(3)
        c1.metric("Checks", f"{len(checks):,}", border=True)
        c2.metric("Passing", f"{len(checks) - len(failed):,}", border=True)
        c3.metric("Failing", f"{len(failed):,}", border=True)
        table(checks, name="asset_checks", key="health_checks")

try:
    counts = data_health.row_counts(org)
    rejected = data_health.rejected_records(org)
    ledger = data_health.file_ledger(org)
except DataUnavailable as exc:
    states.unavailable(exc)
    st.stop()

st.subheader("Rows in the marts (your organization)")
if counts.empty:
    states.empty("The marts have not been built yet: run `revorc materialize`.")
else:
    st.altair_chart(charts.bars(counts, x="mart", y="org_rows", x_title=None, y_title="rows", height=280),
                    width="stretch")
    table(counts, name="mart_row_counts", key="health_counts")

st.subheader("Landing files")
if ledger.empty:
    states.empty("No landing files loaded for your organization yet.")
else:
    table(ledger, name="landing_files", key="health_ledger")

st.subheader("Rejected records")
if rejected.empty:
    states.empty("No records were rejected from your organization's landing files.")
else:
    st.altair_chart(charts.bars(rejected, x="reason", y="records", color="source", x_title=None,
                                y_title="records"), width="stretch")
    table(rejected, name="rejected_records", key="health_rejected")

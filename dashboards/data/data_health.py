"""Data health: asset materializations and dbt test results from the Dagster instance, mart row counts and
rejected landing records of the signed-in organization."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboards.data.db import TTL, read_frame
from serving.core.config import get_settings

FRESH_HOURS = 26  # the ingest assets' freshness check uses the same window

# Fixed list (never user input): the marts the pages read, counted for the signed-in organization.
MARTS = (
    "agg_activity_daily", "agg_email_engagement_daily", "agg_email_send_times", "agg_pipeline_metrics",
    "agg_search_click_positions", "agg_search_daily", "agg_search_queries", "agg_stage_conversion",
    "dim_account_engagement", "dim_account_health", "dim_accounts", "dim_cadences", "dim_deals",
    "dim_email_templates", "dim_enriched_account_profiles", "dim_enriched_prospect_profiles", "dim_ml_models",
    "dim_prospect_engagement", "dim_prospects", "dim_search_popular_queries", "dim_teams", "dim_users",
    "fct_account_intent", "fct_activities", "fct_ai_predictions", "fct_deal_health", "fct_deal_stage_durations",
    "fct_email_events", "fct_forecast", "fct_forecast_accuracy", "fct_forecast_snapshots", "fct_intent_signals",
    "fct_landing_files", "fct_lead_score_history", "fct_prospect_intent", "fct_rejected_records",
    "fct_search_refinements", "fct_website_events", "fct_website_sessions", "intent_score_history",
    "ml_lead_features",
)

EXISTING_MARTS = """
select table_name from information_schema.tables
where table_schema = 'analytics' and table_name = any(cast(:names as text[]))
"""

# The marts name the organization whose landing folder a file came from; API rejects carry no file and are not shown.
REJECTED = """
select landing_source as source, reason, count(*) as records, max(rejected_at) as last_rejected_at
from analytics.fct_rejected_records
where organization_id = :org
group by landing_source, reason
order by records desc
"""

LEDGER = """
select landing_source as source, count(*) as files, count(*) filter (where status = 'rejected') as files_rejected,
    sum(rows_loaded) as rows_loaded, sum(rows_rejected) as rows_rejected, max(loaded_at) as last_loaded_at
from analytics.fct_landing_files
where organization_id = :org
group by landing_source
order by landing_source
"""


def _count_sql(names: list[str]) -> str:
    # names come from MARTS (constants) filtered by the catalog, never from the request
    parts = [f"select '{n}' as mart, count(*) as org_rows from analytics.{n} where organization_id = :org"
             for n in names if n in MARTS]
    return " union all ".join(parts)


@st.cache_data(ttl=TTL, show_spinner=False)
def row_counts(org: str) -> pd.DataFrame:
    names = sorted(read_frame(EXISTING_MARTS, org, {"names": list(MARTS)})["table_name"])
    if not names:
        return pd.DataFrame(columns=["mart", "org_rows"])
    frame = read_frame(_count_sql(names), org)
    frame["org_rows"] = frame["org_rows"].astype(int)
    return frame.sort_values("mart").reset_index(drop=True)


@st.cache_data(ttl=TTL, show_spinner=False)
def rejected_records(org: str) -> pd.DataFrame:
    return read_frame(REJECTED, org)


@st.cache_data(ttl=TTL, show_spinner=False)
def file_ledger(org: str) -> pd.DataFrame:
    return read_frame(LEDGER, org)


def dagster_home() -> Path:
    from revorc.data_runtime import dagster_home as home

    return home(get_settings())


@st.cache_resource(show_spinner=False)
def _instance(home: str):
    import dagster as dg

    return dg.DagsterInstance.from_config(home)


def freshness(last: datetime | None, now: datetime, hours: int = FRESH_HOURS) -> str:
    if last is None:
        return "never"
    return "fresh" if (now - last).total_seconds() <= hours * 3600 else "stale"


@st.cache_data(ttl=60, show_spinner=False)
def materializations() -> pd.DataFrame:
    """Last materialization and freshness per asset (platform-wide: assets are shared by all organizations)."""
    instance = _instance(str(dagster_home()))
    keys = list(instance.get_asset_keys())
    latest = instance.get_latest_materialization_events(keys) if keys else {}
    now = datetime.now(UTC)
    rows = []
    for key in keys:
        event = latest.get(key)
        when = datetime.fromtimestamp(event.timestamp, UTC) if event else None
        rows.append({"asset": "/".join(key.path), "group": key.path[0] if len(key.path) > 1 else "ingest",
                     "last_materialized_at": when, "age_hours": round((now - when).total_seconds() / 3600, 1)
                     if when else None, "freshness": freshness(when, now), "run_id": event.run_id if event else None})
    return pd.DataFrame(rows, columns=["asset", "group", "last_materialized_at", "age_hours", "freshness", "run_id"])


@st.cache_data(ttl=60, show_spinner=False)
def check_results(limit: int = 5000) -> pd.DataFrame:
    """Latest result of every asset check: dbt tests (as Dagster asset checks) and ingest checks."""
    import dagster as dg
    from dagster._core.events import DagsterEventType

    instance = _instance(str(dagster_home()))
    records = instance.get_event_records(
        dg.EventRecordsFilter(event_type=DagsterEventType.ASSET_CHECK_EVALUATION), limit=limit, ascending=False)
    latest: dict[tuple[str, str], dict] = {}
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        key = ("/".join(evaluation.asset_key.path), evaluation.check_name)
        if key in latest:
            continue
        latest[key] = {"asset": key[0], "check": key[1], "passed": bool(evaluation.passed),
                       "severity": evaluation.severity.value if evaluation.severity else None,
                       "evaluated_at": datetime.fromtimestamp(record.event_log_entry.timestamp, UTC)}
    frame = pd.DataFrame(latest.values(), columns=["asset", "check", "passed", "severity", "evaluated_at"])
    return frame.sort_values(["passed", "asset", "check"]).reset_index(drop=True)

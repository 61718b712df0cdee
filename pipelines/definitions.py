"""The one code location: ingest, dbt, ML (filled later) and reverse-ETL assets, checks, schedules, sensors."""

from __future__ import annotations

import importlib

import dagster as dg

from pipelines.defs.dbt.assets import revorc_dbt_models
from pipelines.defs.dbt.project import dbt_resource
from pipelines.defs.ingest.assets import maven_crm_export, raw_ingest_assets
from pipelines.defs.ingest.checks import ingest_checks
from pipelines.defs.ingest.schedules import hourly_job, hourly_schedule, nightly_job, nightly_schedule
from pipelines.defs.ingest.sensors import landing_files_sensor
from pipelines.defs.reverse_etl.assets import account_intent_scores, deal_risk_scores, prospect_intent_scores
from pipelines.resources import (
    DuckDBResource,
    LandingZoneResource,
    PostgresResource,
    default_database_url,
    default_landing_url,
)


def _ml_assets() -> list:
    """Assets of the `ml` group, when the lead-scoring module provides them."""
    try:
        module = importlib.import_module("pipelines.defs.ml.assets")
    except ModuleNotFoundError:
        return []
    return list(dg.load_assets_from_modules([module], group_name="ml"))


def resources(*, database_url: str | None = None, landing_url: str | None = None) -> dict:
    """Resources for the code location; tests pass their own database and landing folder."""
    return {
        "postgres": PostgresResource(database_url=database_url or default_database_url()),
        "landing": LandingZoneResource(url=landing_url or default_landing_url()),
        "duckdb": DuckDBResource(),
        "dbt": dbt_resource(),
    }


ASSETS = [*raw_ingest_assets, maven_crm_export, revorc_dbt_models, *_ml_assets(), prospect_intent_scores,
          account_intent_scores, deal_risk_scores]


def build_definitions(**resource_overrides) -> dg.Definitions:
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=ingest_checks,
        jobs=[hourly_job, nightly_job],
        schedules=[hourly_schedule, nightly_schedule],
        sensors=[landing_files_sensor],
        resources=resources(**resource_overrides),
    )


defs = build_definitions()

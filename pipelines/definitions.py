"""The one code location: ingest, dbt, ML, reverse-ETL and freshness assets, checks, schedules, sensors."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines.defs.bdr.assets import (
    bdr_discovery_job,
    bdr_discovery_runs,
    bdr_discovery_schedule,
    bdr_learning,
    bdr_learning_job,
    bdr_learning_schedule,
)
from pipelines.defs.dbt.assets import revorc_dbt_models
from pipelines.defs.dbt.project import dbt_resource
from pipelines.defs.freshness.assets import freshness_job, freshness_prospect_scores
from pipelines.defs.freshness.sensors import freshness_sensor
from pipelines.defs.ingest.assets import maven_crm_export, raw_ingest_assets
from pipelines.defs.ingest.checks import ingest_checks
from pipelines.defs.ingest.schedules import hourly_job, hourly_schedule, nightly_job, nightly_schedule
from pipelines.defs.ingest.sensors import landing_files_sensor
from pipelines.defs.knowledge.assets import (
    knowledge_checks,
    knowledge_embeddings,
    knowledge_embeddings_job,
    knowledge_recrawl,
    knowledge_recrawl_job,
    knowledge_recrawl_schedule,
)
from pipelines.defs.ml.assets import lead_scoring_model, lead_scoring_training_set, prospect_lead_scores
from pipelines.defs.ml.checks import ml_checks
from pipelines.defs.ml.resources import RevorcHomeResource
from pipelines.defs.ml.schedules import lead_scoring_training_job, lead_scoring_training_schedule
from pipelines.defs.reverse_etl.assets import (
    account_health_scores,
    account_intent_scores,
    deal_risk_scores,
    intent_spike_events,
    prospect_intent_scores,
)
from pipelines.defs.reverse_etl.checks import reverse_etl_checks
from pipelines.defs.search.assets import search_checks, search_index, search_reindex_job, search_reindex_schedule
from pipelines.resources import (
    DuckDBResource,
    LandingZoneResource,
    PostgresResource,
    TypesenseResource,
    default_database_url,
    default_landing_url,
    default_typesense,
)


def _default_home(landing_url: str | None) -> str:
    """REVORC_HOME; a local landing folder passed in (tests) sits in its state folder, so use that one."""
    if landing_url and "://" not in landing_url and Path(landing_url).name == "landing":
        return str(Path(landing_url).parent)
    from serving.core.config import Settings

    return str(Settings().home)


def resources(*, database_url: str | None = None, landing_url: str | None = None,
              revorc_home: str | None = None, typesense: tuple[str, str, str] | None = None) -> dict:
    """Resources for the code location; tests pass their own database, landing folder, state folder and
    Typesense (url, key, prefix)."""
    url, key, prefix = typesense or default_typesense()
    return {
        "postgres": PostgresResource(database_url=database_url or default_database_url()),
        "landing": LandingZoneResource(url=landing_url or default_landing_url()),
        "duckdb": DuckDBResource(),
        "dbt": dbt_resource(),
        "revorc_home": RevorcHomeResource(path=revorc_home or _default_home(landing_url)),
        "typesense": TypesenseResource(url=url, api_key=key, prefix=prefix),
    }


ML_ASSETS = [lead_scoring_training_set, lead_scoring_model, prospect_lead_scores]
ASSETS = [*raw_ingest_assets, maven_crm_export, revorc_dbt_models, *ML_ASSETS, prospect_intent_scores,
          account_intent_scores, account_health_scores, deal_risk_scores, intent_spike_events,
          freshness_prospect_scores, search_index, knowledge_embeddings, knowledge_recrawl, bdr_discovery_runs,
          bdr_learning]


def build_definitions(**resource_overrides) -> dg.Definitions:
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=[*ingest_checks, *ml_checks, *reverse_etl_checks, *search_checks, *knowledge_checks],
        jobs=[hourly_job, nightly_job, lead_scoring_training_job, freshness_job, search_reindex_job,
              knowledge_embeddings_job, knowledge_recrawl_job, bdr_discovery_job, bdr_learning_job],
        schedules=[hourly_schedule, nightly_schedule, lead_scoring_training_schedule, search_reindex_schedule,
                   knowledge_recrawl_schedule, bdr_discovery_schedule, bdr_learning_schedule],
        sensors=[landing_files_sensor, freshness_sensor],
        resources=resources(**resource_overrides),
    )


defs = build_definitions()

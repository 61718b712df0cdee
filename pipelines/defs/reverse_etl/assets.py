"""Reverse-ETL: intent scores/tiers to app.prospects and app.accounts, account health to app.accounts, deal risk
to app.deals."""

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from pipelines.defs.dbt.assets import revorc_dbt_models
from pipelines.events import publish_intent_spikes
from pipelines.resources import PostgresResource
from pipelines.reverse_etl import ACCOUNT_HEALTH, ACCOUNT_INTENT, DEAL_RISK, PROSPECT_INTENT, write_back

GROUP = "reverse_etl"


def _result(counts: dict[str, int]) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={k: dg.MetadataValue.int(v) for k, v in counts.items()})


@dg.asset(key=["reverse_etl", "prospect_intent_scores"], group_name=GROUP, kinds={"postgres"},
          deps=[get_asset_key_for_model([revorc_dbt_models], "fct_prospect_intent")],
          description="app.prospects.intent_score / intent_tier from fct_prospect_intent (changed rows only).")
def prospect_intent_scores(postgres: PostgresResource) -> dg.MaterializeResult:
    with postgres.connect() as conn:
        return _result(write_back(conn, PROSPECT_INTENT))


@dg.asset(key=["reverse_etl", "account_intent_scores"], group_name=GROUP, kinds={"postgres"},
          deps=[get_asset_key_for_model([revorc_dbt_models], "fct_account_intent")],
          description="app.accounts.intent_score / intent_tier from fct_account_intent (changed rows only).")
def account_intent_scores(postgres: PostgresResource) -> dg.MaterializeResult:
    with postgres.connect() as conn:
        return _result(write_back(conn, ACCOUNT_INTENT))


@dg.asset(key=["reverse_etl", "account_health_scores"], group_name=GROUP, kinds={"postgres"},
          deps=[get_asset_key_for_model([revorc_dbt_models], "dim_account_health")],
          description="app.accounts.health_score from dim_account_health (changed rows only).")
def account_health_scores(postgres: PostgresResource) -> dg.MaterializeResult:
    with postgres.connect() as conn:
        return _result(write_back(conn, ACCOUNT_HEALTH))


@dg.asset(key=["reverse_etl", "deal_risk_scores"], group_name=GROUP, kinds={"postgres"},
          deps=[get_asset_key_for_model([revorc_dbt_models], "fct_deal_health")],
          description="app.deals.risk_score and ai_analysis.risk {score, level, reasons} from fct_deal_health.")
def deal_risk_scores(postgres: PostgresResource) -> dg.MaterializeResult:
    with postgres.connect() as conn:
        return _result(write_back(conn, DEAL_RISK))


@dg.asset(key=["reverse_etl", "intent_spike_events"], group_name=GROUP, kinds={"postgres"},
          deps=[get_asset_key_for_model([revorc_dbt_models], "fct_prospect_intent")],
          description="intent.spike_detected domain events (app.domain_events) for prospects whose intent spiked "
                      "today; one per prospect and day, so re-runs publish nothing twice.")
def intent_spike_events(postgres: PostgresResource) -> dg.MaterializeResult:
    with postgres.session(pool="events", pool_size=2) as session, session.begin():
        published = publish_intent_spikes(session)
    return dg.MaterializeResult(metadata={"events_published": dg.MetadataValue.int(published)})

"""The code location loads, and its asset keys, groups, jobs, schedules and sensors are what we expect."""

from __future__ import annotations

from pipelines.definitions import defs

EXPECTED_NON_DBT = {
    "raw/email_events": "ingest", "raw/website_events": "ingest", "raw/enrichment_records": "ingest",
    "raw/intent_signals": "ingest", "app/teams": "ingest", "app/users": "ingest", "app/accounts": "ingest",
    "app/deals": "ingest", "app/activities": "ingest",
    "reverse_etl/prospect_intent_scores": "reverse_etl", "reverse_etl/account_intent_scores": "reverse_etl",
    "reverse_etl/deal_risk_scores": "reverse_etl", "reverse_etl/account_health_scores": "reverse_etl",
    "ml/lead_scoring_training_set": "ml", "ml/lead_scoring_model": "ml", "ml/prospect_lead_scores": "ml",
}
MARTS = {"fct_prospect_intent", "fct_account_intent", "intent_score_history", "fct_email_events",
         "fct_website_events", "fct_website_sessions", "agg_email_engagement_daily", "dim_prospect_engagement",
         "dim_account_engagement", "agg_pipeline_metrics", "agg_stage_conversion", "fct_deal_stage_durations",
         "fct_forecast", "fct_forecast_snapshots", "fct_forecast_accuracy", "fct_deal_health", "dim_account_health",
         "agg_activity_daily", "dim_enriched_prospect_profiles", "dim_enriched_account_profiles", "ml_lead_features"}


def test_asset_keys_and_groups():
    graph = defs.resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name
              for key in graph.get_all_asset_keys() if graph.get(key).is_materializable}
    for key, group in EXPECTED_NON_DBT.items():
        assert groups.get(key) == group, key
    dbt_models = {k.split("/", 1)[1] for k, g in groups.items() if g == "dbt"}
    assert dbt_models >= MARTS
    assert set(groups.values()) <= {"ingest", "dbt", "ml", "reverse_etl"}


def test_dbt_sources_are_fed_by_ingest_assets():
    graph = defs.resolve_asset_graph()
    from dagster import AssetKey

    staging = graph.get(AssetKey(["analytics", "stg_raw__email_events"]))
    assert AssetKey(["raw", "email_events"]) in staging.parent_keys
    deals = graph.get(AssetKey(["analytics", "stg_app__deals"]))
    assert AssetKey(["app", "deals"]) in deals.parent_keys


def test_jobs_schedules_sensors_and_checks():
    assert {j.name for j in defs.resolve_all_job_defs()} >= {"hourly_ingest_and_transform", "nightly_full_rebuild",
                                                              "nightly_lead_scoring_training"}
    schedules = {s.name: s.cron_schedule for s in defs.schedules}
    assert schedules == {"hourly_ingest_and_transform_schedule": "5 * * * *",
                         "nightly_full_rebuild_schedule": "30 2 * * *",
                         "nightly_lead_scoring_training_schedule": "15 3 * * *"}
    assert [s.name for s in defs.sensors] == ["landing_files_sensor"]
    check_names = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert {"email_events_freshness", "intent_signals_row_count_anomaly"} <= check_names
    assert any(name.startswith("unique_") for name in check_names)  # dbt tests as asset checks
    assert {"lead_scoring_model_quality", "lead_score_drift"} <= check_names


def test_ml_lineage_and_job_membership():
    from dagster import AssetKey

    graph = defs.resolve_asset_graph()
    features = AssetKey(["analytics", "ml_lead_features"])
    assert features in graph.get(AssetKey(["ml", "lead_scoring_training_set"])).parent_keys
    assert features in graph.get(AssetKey(["ml", "prospect_lead_scores"])).parent_keys
    ml_keys = {"ml/lead_scoring_training_set", "ml/lead_scoring_model", "ml/prospect_lead_scores"}

    def selected(job: str) -> set[str]:
        keys = defs.resolve_job_def(job).asset_layer.selected_asset_keys
        return {k.to_user_string() for k in keys if k.path[0] == "ml"}

    assert selected("hourly_ingest_and_transform") == {"ml/prospect_lead_scores"}  # scores follow each dbt run
    assert selected("nightly_full_rebuild") == {"ml/prospect_lead_scores"}
    assert selected("nightly_lead_scoring_training") == ml_keys

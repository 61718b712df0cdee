"""The code location loads, and its assets, asset checks, jobs, schedules and sensors are exactly these lists.

A change to the graph (a dbt model or test, an asset, a check, a job) must land here on purpose. On a mismatch the
message says what is missing and what is new; `python -m tests.pipelines.test_definitions_snapshot` prints the
current lists in this file's layout, to paste over the literals below after checking the change is intended.
"""

from __future__ import annotations

import textwrap

from dagster import AssetKey

from pipelines.definitions import defs

# BEGIN SNAPSHOT
ASSETS_BY_GROUP: dict[str, list[str]] = {
    "bdr": [
        "bdr/discovery_runs", "bdr/learning",
    ],
    "dbt": [
        "analytics/agg_activity_daily", "analytics/agg_email_engagement_daily", "analytics/agg_email_send_times",
        "analytics/agg_pipeline_metrics", "analytics/agg_search_click_positions", "analytics/agg_search_daily",
        "analytics/agg_search_queries", "analytics/agg_stage_conversion", "analytics/dim_account_engagement",
        "analytics/dim_account_health", "analytics/dim_accounts", "analytics/dim_cadences", "analytics/dim_deals",
        "analytics/dim_email_templates", "analytics/dim_enriched_account_profiles",
        "analytics/dim_enriched_prospect_profiles", "analytics/dim_ml_models", "analytics/dim_prospect_engagement",
        "analytics/dim_prospects", "analytics/dim_search_popular_queries", "analytics/dim_teams",
        "analytics/dim_users", "analytics/enrichment_provider_priority", "analytics/fct_account_intent",
        "analytics/fct_activities", "analytics/fct_ai_predictions", "analytics/fct_deal_health",
        "analytics/fct_deal_stage_durations", "analytics/fct_email_events", "analytics/fct_forecast",
        "analytics/fct_forecast_accuracy", "analytics/fct_forecast_snapshots", "analytics/fct_intent_signals",
        "analytics/fct_landing_files", "analytics/fct_lead_score_history", "analytics/fct_prospect_intent",
        "analytics/fct_rejected_records", "analytics/fct_search_refinements", "analytics/fct_website_events",
        "analytics/fct_website_sessions", "analytics/high_intent_pages", "analytics/int_deals__forecast_banded",
        "analytics/int_deals__risk_inputs", "analytics/int_deals__stage_intervals",
        "analytics/int_deals__stage_transitions", "analytics/int_enrichment__fields_ranked",
        "analytics/int_intent__daily_points", "analytics/int_intent__entity_scores",
        "analytics/int_intent__entity_signals", "analytics/int_website__events_attributed",
        "analytics/int_website__identity_map", "analytics/intent_score_history", "analytics/intent_signal_weights",
        "analytics/ml_lead_features", "analytics/stg_app__accounts", "analytics/stg_app__activities",
        "analytics/stg_app__ai_predictions", "analytics/stg_app__cadences", "analytics/stg_app__deal_contacts",
        "analytics/stg_app__deals", "analytics/stg_app__email_templates", "analytics/stg_app__lead_score_history",
        "analytics/stg_app__ml_models", "analytics/stg_app__organizations",
        "analytics/stg_app__prospect_enrichment", "analytics/stg_app__prospects",
        "analytics/stg_app__search_analytics", "analytics/stg_app__search_clicks",
        "analytics/stg_app__search_popular_queries", "analytics/stg_app__teams", "analytics/stg_app__users",
        "analytics/stg_raw__email_events", "analytics/stg_raw__enrichment_records",
        "analytics/stg_raw__file_ledger", "analytics/stg_raw__intent_signals",
        "analytics/stg_raw__rejected_records", "analytics/stg_raw__website_events",
    ],
    "freshness": [
        "freshness/prospect_scores",
    ],
    "ingest": [
        "app/accounts", "app/activities", "app/deals", "app/teams", "app/users", "raw/email_events",
        "raw/enrichment_records", "raw/intent_signals", "raw/website_events",
    ],
    "knowledge": [
        "knowledge/embeddings", "knowledge/recrawl",
    ],
    "ml": [
        "ml/lead_scoring_model", "ml/lead_scoring_training_set", "ml/prospect_lead_scores",
    ],
    "reverse_etl": [
        "reverse_etl/account_health_scores", "reverse_etl/account_intent_scores", "reverse_etl/deal_risk_scores",
        "reverse_etl/intent_spike_events", "reverse_etl/prospect_intent_scores",
    ],
    "search": [
        "search/index",
    ],
}
SOURCE_ASSETS: list[str] = [
    "app/ai_predictions", "app/cadences", "app/deal_contacts", "app/email_templates", "app/lead_score_history",
    "app/ml_models", "app/organizations", "app/prospects", "app/search_analytics", "app/search_clicks",
    "app/search_popular_queries", "raw/file_ledger", "raw/rejected_records",
]
ASSET_CHECKS: list[str] = [
    "analytics/agg_activity_daily:not_null_agg_activity_daily_activity_date",
    "analytics/agg_activity_daily:not_null_agg_activity_daily_activity_day_id",
    "analytics/agg_activity_daily:not_null_agg_activity_daily_user_id",
    "analytics/agg_activity_daily:relationships_agg_activity_daily_user_id__user_id__ref_stg_app__users_",
    "analytics/agg_activity_daily:unique_agg_activity_daily_activity_day_id",
    "analytics/agg_email_engagement_daily:accepted_values_agg_email_engagement_daily_dimension__prospect__template__cadence__campaign",
    "analytics/agg_email_engagement_daily:not_null_agg_email_engagement_daily_dimension",
    "analytics/agg_email_engagement_daily:not_null_agg_email_engagement_daily_engagement_day_id",
    "analytics/agg_email_engagement_daily:not_null_agg_email_engagement_daily_event_date",
    "analytics/agg_email_engagement_daily:unique_agg_email_engagement_daily_engagement_day_id",
    "analytics/agg_email_send_times:accepted_values_agg_email_send_times_weekday__False__1__2__3__4__5__6__7",
    "analytics/agg_email_send_times:not_null_agg_email_send_times_send_slot_id",
    "analytics/agg_email_send_times:unique_agg_email_send_times_send_slot_id",
    "analytics/agg_pipeline_metrics:accepted_values_agg_pipeline_metrics_dimension__organization__team__owner",
    "analytics/agg_pipeline_metrics:not_null_agg_pipeline_metrics_period_month",
    "analytics/agg_pipeline_metrics:not_null_agg_pipeline_metrics_pipeline_metric_id",
    "analytics/agg_pipeline_metrics:unique_agg_pipeline_metrics_pipeline_metric_id",
    "analytics/agg_search_click_positions:accepted_values_agg_search_click_positions_window_days__False__7__30__90",
    "analytics/agg_search_click_positions:not_null_agg_search_click_positions_click_position_id",
    "analytics/agg_search_click_positions:unique_agg_search_click_positions_click_position_id",
    "analytics/agg_search_daily:not_null_agg_search_daily_organization_id",
    "analytics/agg_search_daily:not_null_agg_search_daily_search_day_id",
    "analytics/agg_search_daily:unique_agg_search_daily_search_day_id",
    "analytics/agg_search_queries:accepted_values_agg_search_queries_window_days__False__7__30__90",
    "analytics/agg_search_queries:not_null_agg_search_queries_search_query_id",
    "analytics/agg_search_queries:unique_agg_search_queries_search_query_id",
    "analytics/agg_stage_conversion:not_null_agg_stage_conversion_stage_conversion_id",
    "analytics/agg_stage_conversion:unique_agg_stage_conversion_stage_conversion_id",
    "analytics/dim_account_engagement:not_null_dim_account_engagement_account_id",
    "analytics/dim_account_engagement:unique_dim_account_engagement_account_id",
    "analytics/dim_account_health:accepted_values_dim_account_health_health_tier__healthy__neutral__at_risk",
    "analytics/dim_account_health:not_null_dim_account_health_account_id",
    "analytics/dim_account_health:relationships_dim_account_health_account_id__account_id__ref_stg_app__accounts_",
    "analytics/dim_account_health:unique_dim_account_health_account_id",
    "analytics/dim_accounts:not_null_dim_accounts_account_id",
    "analytics/dim_accounts:not_null_dim_accounts_organization_id",
    "analytics/dim_accounts:relationships_dim_accounts_owner_id__user_id__ref_dim_users_",
    "analytics/dim_accounts:relationships_dim_accounts_team_id__team_id__ref_dim_teams_",
    "analytics/dim_accounts:unique_dim_accounts_account_id",
    "analytics/dim_cadences:not_null_dim_cadences_cadence_id",
    "analytics/dim_cadences:not_null_dim_cadences_cadence_name",
    "analytics/dim_cadences:not_null_dim_cadences_organization_id",
    "analytics/dim_cadences:relationships_dim_cadences_owner_id__user_id__ref_dim_users_",
    "analytics/dim_cadences:relationships_dim_cadences_team_id__team_id__ref_dim_teams_",
    "analytics/dim_cadences:unique_dim_cadences_cadence_id",
    "analytics/dim_deals:accepted_values_dim_deals_forecast_category__pipeline__best_case__commit__closed__omitted",
    "analytics/dim_deals:accepted_values_dim_deals_stage__discovery__qualification__proposal__negotiation__closed_won__closed_lost",
    "analytics/dim_deals:not_null_dim_deals_deal_id", "analytics/dim_deals:not_null_dim_deals_organization_id",
    "analytics/dim_deals:not_null_dim_deals_stage",
    "analytics/dim_deals:relationships_dim_deals_account_id__account_id__ref_dim_accounts_",
    "analytics/dim_deals:relationships_dim_deals_owner_id__user_id__ref_dim_users_",
    "analytics/dim_deals:relationships_dim_deals_team_id__team_id__ref_dim_teams_",
    "analytics/dim_deals:unique_dim_deals_deal_id",
    "analytics/dim_email_templates:not_null_dim_email_templates_organization_id",
    "analytics/dim_email_templates:not_null_dim_email_templates_template_id",
    "analytics/dim_email_templates:not_null_dim_email_templates_template_name",
    "analytics/dim_email_templates:relationships_dim_email_templates_team_id__team_id__ref_dim_teams_",
    "analytics/dim_email_templates:unique_dim_email_templates_template_id",
    "analytics/dim_enriched_account_profiles:not_null_dim_enriched_account_profiles_account_id",
    "analytics/dim_enriched_account_profiles:relationships_dim_enriched_account_profiles_account_id__account_id__ref_stg_app__accounts_",
    "analytics/dim_enriched_account_profiles:unique_dim_enriched_account_profiles_account_id",
    "analytics/dim_enriched_prospect_profiles:not_null_dim_enriched_prospect_profiles_profile",
    "analytics/dim_enriched_prospect_profiles:not_null_dim_enriched_prospect_profiles_prospect_id",
    "analytics/dim_enriched_prospect_profiles:relationships_dim_enriched_prospect_profiles_prospect_id__prospect_id__ref_stg_app__prospects_",
    "analytics/dim_enriched_prospect_profiles:unique_dim_enriched_prospect_profiles_prospect_id",
    "analytics/dim_ml_models:accepted_values_dim_ml_models_status__candidate__champion__retired",
    "analytics/dim_ml_models:not_null_dim_ml_models_model_id",
    "analytics/dim_ml_models:not_null_dim_ml_models_model_name",
    "analytics/dim_ml_models:not_null_dim_ml_models_organization_id",
    "analytics/dim_ml_models:not_null_dim_ml_models_status",
    "analytics/dim_ml_models:not_null_dim_ml_models_version",
    "analytics/dim_ml_models:unique_dim_ml_models_model_id",
    "analytics/dim_prospect_engagement:not_null_dim_prospect_engagement_prospect_id",
    "analytics/dim_prospect_engagement:relationships_dim_prospect_engagement_prospect_id__prospect_id__ref_stg_app__prospects_",
    "analytics/dim_prospect_engagement:unique_dim_prospect_engagement_prospect_id",
    "analytics/dim_prospects:accepted_values_dim_prospects_status__new__contacted__engaged__qualified__unqualified__nurture__converted__do_not_contact",
    "analytics/dim_prospects:not_null_dim_prospects_organization_id",
    "analytics/dim_prospects:not_null_dim_prospects_prospect_id",
    "analytics/dim_prospects:relationships_dim_prospects_account_id__account_id__ref_dim_accounts_",
    "analytics/dim_prospects:relationships_dim_prospects_owner_id__user_id__ref_dim_users_",
    "analytics/dim_prospects:relationships_dim_prospects_team_id__team_id__ref_dim_teams_",
    "analytics/dim_prospects:unique_dim_prospects_prospect_id",
    "analytics/dim_search_popular_queries:not_null_dim_search_popular_queries_popular_query_id",
    "analytics/dim_search_popular_queries:unique_dim_search_popular_queries_popular_query_id",
    "analytics/dim_teams:not_null_dim_teams_organization_id", "analytics/dim_teams:not_null_dim_teams_team_id",
    "analytics/dim_teams:not_null_dim_teams_team_name", "analytics/dim_teams:unique_dim_teams_team_id",
    "analytics/dim_users:accepted_values_dim_users_role__admin__user__viewer",
    "analytics/dim_users:not_null_dim_users_email", "analytics/dim_users:not_null_dim_users_organization_id",
    "analytics/dim_users:not_null_dim_users_user_id", "analytics/dim_users:not_null_dim_users_user_name",
    "analytics/dim_users:relationships_dim_users_team_id__team_id__ref_dim_teams_",
    "analytics/dim_users:unique_dim_users_user_id",
    "analytics/enrichment_provider_priority:not_null_enrichment_provider_priority_provider",
    "analytics/enrichment_provider_priority:unique_enrichment_provider_priority_provider",
    "analytics/fct_account_intent:accepted_values_fct_account_intent_intent_tier__low__warm__hot__burning",
    "analytics/fct_account_intent:accepted_values_fct_account_intent_intent_trend__increasing__stable__decreasing",
    "analytics/fct_account_intent:not_null_fct_account_intent_intent_tier",
    "analytics/fct_account_intent:relationships_fct_account_intent_account_id__account_id__ref_stg_app__accounts_",
    "analytics/fct_account_intent:unique_fct_account_intent_account_id",
    "analytics/fct_activities:accepted_values_fct_activities_activity_type__email_sent__email_received__email_opened__email_clicked__email_bounced__email_unsubscribed__call_made__call_received__meeting_scheduled__meeting_completed__linkedin_interaction__sms_sent__note_added__status_change__task_completed",
    "analytics/fct_activities:not_null_fct_activities_activity_id",
    "analytics/fct_activities:not_null_fct_activities_activity_type",
    "analytics/fct_activities:not_null_fct_activities_occurred_at",
    "analytics/fct_activities:not_null_fct_activities_organization_id",
    "analytics/fct_activities:relationships_fct_activities_deal_id__deal_id__ref_dim_deals_",
    "analytics/fct_activities:relationships_fct_activities_user_id__user_id__ref_dim_users_",
    "analytics/fct_activities:unique_fct_activities_activity_id",
    "analytics/fct_ai_predictions:accepted_values_fct_ai_predictions_prediction_source__batch__realtime",
    "analytics/fct_ai_predictions:accepted_values_fct_ai_predictions_tier__low__warm__hot__burning",
    "analytics/fct_ai_predictions:not_null_fct_ai_predictions_created_at",
    "analytics/fct_ai_predictions:not_null_fct_ai_predictions_organization_id",
    "analytics/fct_ai_predictions:not_null_fct_ai_predictions_prediction_id",
    "analytics/fct_ai_predictions:not_null_fct_ai_predictions_prediction_source",
    "analytics/fct_ai_predictions:relationships_fct_ai_predictions_prospect_id__prospect_id__ref_dim_prospects_",
    "analytics/fct_ai_predictions:unique_fct_ai_predictions_prediction_id",
    "analytics/fct_deal_health:accepted_values_fct_deal_health_risk_level__low__medium__high",
    "analytics/fct_deal_health:accepted_values_fct_deal_health_stage__discovery__qualification__proposal__negotiation",
    "analytics/fct_deal_health:relationships_fct_deal_health_deal_id__deal_id__ref_stg_app__deals_",
    "analytics/fct_deal_health:unique_fct_deal_health_deal_id",
    "analytics/fct_deal_stage_durations:accepted_values_fct_deal_stage_durations_stage__discovery__qualification__proposal__negotiation__closed_won__closed_lost",
    "analytics/fct_deal_stage_durations:not_null_fct_deal_stage_durations_deal_id",
    "analytics/fct_deal_stage_durations:not_null_fct_deal_stage_durations_stage_interval_id",
    "analytics/fct_deal_stage_durations:relationships_fct_deal_stage_durations_deal_id__deal_id__ref_stg_app__deals_",
    "analytics/fct_deal_stage_durations:unique_fct_deal_stage_durations_stage_interval_id",
    "analytics/fct_email_events:accepted_values_fct_email_events_event__processed__deferred__delivered__open__click__bounce__dropped__spamreport__unsubscribe__group_unsubscribe__group_resubscribe__reply",
    "analytics/fct_email_events:not_null_fct_email_events_organization_id",
    "analytics/fct_email_events:not_null_fct_email_events_sg_event_id",
    "analytics/fct_email_events:relationships_fct_email_events_prospect_id__prospect_id__ref_stg_app__prospects_",
    "analytics/fct_email_events:unique_fct_email_events_sg_event_id",
    "analytics/fct_forecast:accepted_values_fct_forecast_dimension__organization__team__owner",
    "analytics/fct_forecast:accepted_values_fct_forecast_forecast_category__pipeline__best_case__commit__closed",
    "analytics/fct_forecast:accepted_values_fct_forecast_period_type__month__quarter__year",
    "analytics/fct_forecast:unique_fct_forecast_forecast_id",
    "analytics/fct_forecast_accuracy:accepted_values_fct_forecast_accuracy_dimension__organization__team__owner",
    "analytics/fct_forecast_accuracy:accepted_values_fct_forecast_accuracy_period_type__month__quarter__year",
    "analytics/fct_forecast_accuracy:not_null_fct_forecast_accuracy_forecast_accuracy_id",
    "analytics/fct_forecast_accuracy:unique_fct_forecast_accuracy_forecast_accuracy_id",
    "analytics/fct_forecast_snapshots:not_null_fct_forecast_snapshots_forecast_snapshot_id",
    "analytics/fct_forecast_snapshots:not_null_fct_forecast_snapshots_snapshot_date",
    "analytics/fct_forecast_snapshots:unique_fct_forecast_snapshots_forecast_snapshot_id",
    "analytics/fct_intent_signals:accepted_values_fct_intent_signals_signal_type__website_visit__linkedin_engagement__job_posting__technographic_change__funding__news",
    "analytics/fct_intent_signals:not_null_fct_intent_signals_occurred_at",
    "analytics/fct_intent_signals:not_null_fct_intent_signals_organization_id",
    "analytics/fct_intent_signals:not_null_fct_intent_signals_signal_id",
    "analytics/fct_intent_signals:not_null_fct_intent_signals_signal_type",
    "analytics/fct_intent_signals:unique_fct_intent_signals_signal_id",
    "analytics/fct_landing_files:accepted_values_fct_landing_files_status__loaded__rejected",
    "analytics/fct_landing_files:not_null_fct_landing_files_landing_file_id",
    "analytics/fct_landing_files:not_null_fct_landing_files_landing_source",
    "analytics/fct_landing_files:not_null_fct_landing_files_status",
    "analytics/fct_landing_files:unique_fct_landing_files_landing_file_id",
    "analytics/fct_lead_score_history:accepted_values_fct_lead_score_history_tier__low__warm__hot__burning",
    "analytics/fct_lead_score_history:not_null_fct_lead_score_history_lead_score_id",
    "analytics/fct_lead_score_history:not_null_fct_lead_score_history_organization_id",
    "analytics/fct_lead_score_history:not_null_fct_lead_score_history_prospect_id",
    "analytics/fct_lead_score_history:not_null_fct_lead_score_history_score_date",
    "analytics/fct_lead_score_history:relationships_fct_lead_score_history_prospect_id__prospect_id__ref_dim_prospects_",
    "analytics/fct_lead_score_history:unique_fct_lead_score_history_lead_score_id",
    "analytics/fct_prospect_intent:accepted_values_fct_prospect_intent_intent_tier__low__warm__hot__burning",
    "analytics/fct_prospect_intent:accepted_values_fct_prospect_intent_intent_trend__increasing__stable__decreasing",
    "analytics/fct_prospect_intent:not_null_fct_prospect_intent_intent_tier",
    "analytics/fct_prospect_intent:not_null_fct_prospect_intent_is_spike",
    "analytics/fct_prospect_intent:relationships_fct_prospect_intent_prospect_id__prospect_id__ref_stg_app__prospects_",
    "analytics/fct_prospect_intent:unique_fct_prospect_intent_prospect_id",
    "analytics/fct_rejected_records:not_null_fct_rejected_records_landing_source",
    "analytics/fct_rejected_records:not_null_fct_rejected_records_reason",
    "analytics/fct_rejected_records:not_null_fct_rejected_records_rejected_record_id",
    "analytics/fct_rejected_records:unique_fct_rejected_records_rejected_record_id",
    "analytics/fct_search_refinements:not_null_fct_search_refinements_search_id",
    "analytics/fct_search_refinements:unique_fct_search_refinements_next_search_id",
    "analytics/fct_search_refinements:unique_fct_search_refinements_search_id",
    "analytics/fct_website_events:accepted_values_fct_website_events_event_type__page__track__identify__group__alias__screen",
    "analytics/fct_website_events:not_null_fct_website_events_website_event_id",
    "analytics/fct_website_events:unique_fct_website_events_website_event_id",
    "analytics/fct_website_sessions:not_null_fct_website_sessions_session_id",
    "analytics/fct_website_sessions:relationships_fct_website_sessions_prospect_id__prospect_id__ref_stg_app__prospects_",
    "analytics/fct_website_sessions:unique_fct_website_sessions_session_id",
    "analytics/high_intent_pages:not_null_high_intent_pages_path_pattern",
    "analytics/high_intent_pages:not_null_high_intent_pages_strength",
    "analytics/high_intent_pages:unique_high_intent_pages_path_pattern",
    "analytics/int_deals__forecast_banded:accepted_values_int_deals__forecast_banded_forecast_category__pipeline__best_case__commit__closed__omitted",
    "analytics/int_deals__forecast_banded:not_null_int_deals__forecast_banded_deal_id",
    "analytics/int_deals__forecast_banded:unique_int_deals__forecast_banded_deal_id",
    "analytics/int_deals__risk_inputs:not_null_int_deals__risk_inputs_deal_id",
    "analytics/int_deals__risk_inputs:unique_int_deals__risk_inputs_deal_id",
    "analytics/int_deals__stage_intervals:not_null_int_deals__stage_intervals_stage_interval_id",
    "analytics/int_deals__stage_intervals:unique_int_deals__stage_intervals_stage_interval_id",
    "analytics/int_deals__stage_transitions:not_null_int_deals__stage_transitions_transition_id",
    "analytics/int_deals__stage_transitions:unique_int_deals__stage_transitions_transition_id",
    "analytics/int_enrichment__fields_ranked:int_enrichment__fields_ranked_key_unique",
    "analytics/int_enrichment__fields_ranked:not_null_int_enrichment__fields_ranked_field",
    "analytics/int_enrichment__fields_ranked:not_null_int_enrichment__fields_ranked_source_record",
    "analytics/int_intent__daily_points:int_intent__daily_points_key_unique",
    "analytics/int_intent__daily_points:not_null_int_intent__daily_points_entity_id",
    "analytics/int_intent__daily_points:not_null_int_intent__daily_points_points",
    "analytics/int_intent__daily_points:not_null_int_intent__daily_points_score_date",
    "analytics/int_intent__entity_scores:int_intent__entity_scores_key_unique",
    "analytics/int_intent__entity_scores:not_null_int_intent__entity_scores_entity_id",
    "analytics/int_intent__entity_signals:accepted_values_int_intent__entity_signals_entity_type__prospect__account",
    "analytics/int_intent__entity_signals:accepted_values_int_intent__entity_signals_signal_source__intent_signals__website_events",
    "analytics/int_intent__entity_signals:int_intent__entity_signals_key_unique",
    "analytics/int_intent__entity_signals:not_null_int_intent__entity_signals_base_points",
    "analytics/int_intent__entity_signals:not_null_int_intent__entity_signals_entity_id",
    "analytics/int_intent__entity_signals:not_null_int_intent__entity_signals_entity_type",
    "analytics/int_intent__entity_signals:not_null_int_intent__entity_signals_signal_id",
    "analytics/int_website__events_attributed:not_null_int_website__events_attributed_website_event_id",
    "analytics/int_website__events_attributed:unique_int_website__events_attributed_website_event_id",
    "analytics/int_website__identity_map:int_website__identity_map_key_unique",
    "analytics/int_website__identity_map:not_null_int_website__identity_map_anonymous_id",
    "analytics/int_website__identity_map:not_null_int_website__identity_map_organization_id",
    "analytics/int_website__identity_map:not_null_int_website__identity_map_prospect_id",
    "analytics/intent_score_history:accepted_values_intent_score_history_entity_type__prospect__account",
    "analytics/intent_score_history:accepted_values_intent_score_history_intent_tier__low__warm__hot__burning",
    "analytics/intent_score_history:not_null_intent_score_history_intent_history_id",
    "analytics/intent_score_history:not_null_intent_score_history_intent_score",
    "analytics/intent_score_history:unique_intent_score_history_intent_history_id",
    "analytics/intent_signal_weights:not_null_intent_signal_weights_signal_type",
    "analytics/intent_signal_weights:unique_intent_signal_weights_signal_type",
    "analytics/ml_lead_features:accepted_values_ml_lead_features_department__sales__marketing__operations__engineering__finance__other",
    "analytics/ml_lead_features:accepted_values_ml_lead_features_employee_band__1_10__11_50__51_200__201_1000__1001_5000__5001_",
    "analytics/ml_lead_features:accepted_values_ml_lead_features_intent_tier__low__warm__hot__burning",
    "analytics/ml_lead_features:accepted_values_ml_lead_features_intent_trend__increasing__stable__decreasing",
    "analytics/ml_lead_features:accepted_values_ml_lead_features_revenue_band___1M__1M_10M__10M_50M__50M_250M__250M_1B__1B_",
    "analytics/ml_lead_features:accepted_values_ml_lead_features_title_seniority__c_level__vp__director__manager__individual",
    "analytics/ml_lead_features:relationships_ml_lead_features_prospect_id__prospect_id__ref_stg_app__prospects_",
    "analytics/ml_lead_features:unique_ml_lead_features_feature_row_id",
    "analytics/stg_app__accounts:not_null_stg_app__accounts_account_id",
    "analytics/stg_app__accounts:unique_stg_app__accounts_account_id",
    "analytics/stg_app__activities:not_null_stg_app__activities_activity_id",
    "analytics/stg_app__activities:unique_stg_app__activities_activity_id",
    "analytics/stg_app__ai_predictions:not_null_stg_app__ai_predictions_prediction_id",
    "analytics/stg_app__ai_predictions:unique_stg_app__ai_predictions_prediction_id",
    "analytics/stg_app__cadences:not_null_stg_app__cadences_cadence_id",
    "analytics/stg_app__cadences:unique_stg_app__cadences_cadence_id",
    "analytics/stg_app__deal_contacts:not_null_stg_app__deal_contacts_deal_contact_id",
    "analytics/stg_app__deal_contacts:unique_stg_app__deal_contacts_deal_contact_id",
    "analytics/stg_app__deals:not_null_stg_app__deals_deal_id",
    "analytics/stg_app__deals:unique_stg_app__deals_deal_id",
    "analytics/stg_app__email_templates:not_null_stg_app__email_templates_template_id",
    "analytics/stg_app__email_templates:unique_stg_app__email_templates_template_id",
    "analytics/stg_app__lead_score_history:not_null_stg_app__lead_score_history_lead_score_id",
    "analytics/stg_app__lead_score_history:unique_stg_app__lead_score_history_lead_score_id",
    "analytics/stg_app__ml_models:not_null_stg_app__ml_models_model_id",
    "analytics/stg_app__ml_models:unique_stg_app__ml_models_model_id",
    "analytics/stg_app__organizations:not_null_stg_app__organizations_organization_id",
    "analytics/stg_app__organizations:unique_stg_app__organizations_organization_id",
    "analytics/stg_app__prospect_enrichment:accepted_values_stg_app__prospect_enrichment_entity_type__person__company",
    "analytics/stg_app__prospect_enrichment:not_null_stg_app__prospect_enrichment_entity_key",
    "analytics/stg_app__prospect_enrichment:not_null_stg_app__prospect_enrichment_prospect_id",
    "analytics/stg_app__prospect_enrichment:stg_app__prospect_enrichment_key_unique",
    "analytics/stg_app__prospects:not_null_stg_app__prospects_prospect_id",
    "analytics/stg_app__prospects:unique_stg_app__prospects_prospect_id",
    "analytics/stg_app__search_analytics:not_null_stg_app__search_analytics_search_id",
    "analytics/stg_app__search_analytics:unique_stg_app__search_analytics_search_id",
    "analytics/stg_app__search_clicks:not_null_stg_app__search_clicks_click_id",
    "analytics/stg_app__search_clicks:not_null_stg_app__search_clicks_search_id",
    "analytics/stg_app__search_clicks:relationships_stg_app__search_clicks_search_id__search_id__ref_stg_app__search_analytics_",
    "analytics/stg_app__search_clicks:unique_stg_app__search_clicks_click_id",
    "analytics/stg_app__search_popular_queries:not_null_stg_app__search_popular_queries_popular_query_id",
    "analytics/stg_app__search_popular_queries:unique_stg_app__search_popular_queries_popular_query_id",
    "analytics/stg_app__teams:not_null_stg_app__teams_team_id",
    "analytics/stg_app__teams:unique_stg_app__teams_team_id",
    "analytics/stg_app__users:not_null_stg_app__users_user_id",
    "analytics/stg_app__users:unique_stg_app__users_user_id",
    "analytics/stg_raw__email_events:accepted_values_stg_raw__email_events_event__processed__deferred__delivered__open__click__bounce__dropped__spamreport__unsubscribe__group_unsubscribe__group_resubscribe__reply",
    "analytics/stg_raw__email_events:not_null_stg_raw__email_events_email_event_id",
    "analytics/stg_raw__email_events:not_null_stg_raw__email_events_sg_event_id",
    "analytics/stg_raw__email_events:unique_stg_raw__email_events_email_event_id",
    "analytics/stg_raw__email_events:unique_stg_raw__email_events_sg_event_id",
    "analytics/stg_raw__enrichment_records:not_null_stg_raw__enrichment_records_enrichment_record_id",
    "analytics/stg_raw__enrichment_records:not_null_stg_raw__enrichment_records_entity_key",
    "analytics/stg_raw__enrichment_records:unique_stg_raw__enrichment_records_enrichment_record_id",
    "analytics/stg_raw__file_ledger:not_null_stg_raw__file_ledger_landing_file_id",
    "analytics/stg_raw__file_ledger:unique_stg_raw__file_ledger_landing_file_id",
    "analytics/stg_raw__intent_signals:not_null_stg_raw__intent_signals_signal_id",
    "analytics/stg_raw__intent_signals:relationships_stg_raw__intent_signals_signal_type__signal_type__ref_intent_signal_weights_",
    "analytics/stg_raw__intent_signals:unique_stg_raw__intent_signals_signal_id",
    "analytics/stg_raw__rejected_records:not_null_stg_raw__rejected_records_rejected_record_id",
    "analytics/stg_raw__rejected_records:unique_stg_raw__rejected_records_rejected_record_id",
    "analytics/stg_raw__website_events:accepted_values_stg_raw__website_events_event_type__page__track__identify__group__alias__screen",
    "analytics/stg_raw__website_events:not_null_stg_raw__website_events_website_event_id",
    "analytics/stg_raw__website_events:unique_stg_raw__website_events_website_event_id",
    "knowledge/embeddings:embeddings_current", "ml/lead_scoring_model:lead_scoring_model_quality",
    "ml/prospect_lead_scores:lead_score_drift", "raw/email_events:email_events_freshness",
    "raw/email_events:email_events_row_count_anomaly", "raw/enrichment_records:enrichment_records_freshness",
    "raw/enrichment_records:enrichment_records_row_count_anomaly", "raw/intent_signals:intent_signals_freshness",
    "raw/intent_signals:intent_signals_row_count_anomaly", "raw/website_events:website_events_freshness",
    "raw/website_events:website_events_row_count_anomaly",
    "reverse_etl/account_health_scores:account_health_scores_in_step_with_mart",
    "reverse_etl/account_health_scores:account_health_scores_rows_per_organization",
    "reverse_etl/account_intent_scores:account_intent_scores_in_step_with_mart",
    "reverse_etl/account_intent_scores:account_intent_scores_rows_per_organization",
    "reverse_etl/deal_risk_scores:deal_risk_scores_in_step_with_mart",
    "reverse_etl/deal_risk_scores:deal_risk_scores_rows_per_organization",
    "reverse_etl/prospect_intent_scores:prospect_intent_scores_in_step_with_mart",
    "reverse_etl/prospect_intent_scores:prospect_intent_scores_rows_per_organization",
    "search/index:accounts_indexed", "search/index:deals_indexed", "search/index:documents_indexed",
    "search/index:emails_indexed", "search/index:kb_articles_indexed", "search/index:prospects_indexed",
]
JOBS: list[str] = [
    "bdr_discovery", "bdr_learning", "freshness_micro_batch", "hourly_ingest_and_transform", "knowledge_embeddings",
    "knowledge_recrawl", "nightly_full_rebuild", "nightly_lead_scoring_training", "search_reindex",
]
SENSORS: list[str] = [
    "freshness_sensor", "landing_files_sensor",
]
SCHEDULES: dict[str, str] = {
    "bdr_discovery": "*/15 * * * *",
    "bdr_learning_daily": "45 4 * * *",
    "hourly_ingest_and_transform_schedule": "5 * * * *",
    "knowledge_recrawl_daily": "30 3 * * *",
    "nightly_full_rebuild_schedule": "30 2 * * *",
    "nightly_lead_scoring_training_schedule": "15 3 * * *",
    "search_reindex_weekly": "0 4 * * 0",
}
# END SNAPSHOT


def current() -> dict[str, object]:
    """The lists above, read from the Definitions as they load now."""
    graph = defs.resolve_asset_graph()
    groups: dict[str, list[str]] = {}
    sources = []
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_materializable:
            groups.setdefault(node.group_name, []).append(key.to_user_string())
        else:
            sources.append(key.to_user_string())
    return {
        "ASSETS_BY_GROUP": {group: sorted(keys) for group, keys in sorted(groups.items())},
        "SOURCE_ASSETS": sorted(sources),
        "ASSET_CHECKS": sorted(f"{c.asset_key.to_user_string()}:{c.name}" for c in graph.asset_check_keys),
        # Dagster's implicit all-assets job (`__ASSET_JOB`) is its business, not ours
        "JOBS": sorted(job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__")),
        "SCHEDULES": {s.name: s.cron_schedule for s in sorted(defs.schedules, key=lambda s: s.name)},
        "SENSORS": sorted(s.name for s in defs.sensors),
    }


def _same(name: str, expected: list[str], actual: list[str]) -> None:
    missing, new = sorted(set(expected) - set(actual)), sorted(set(actual) - set(expected))
    assert actual == expected, (
        f"{name} changed: missing {missing}, new {new}"
        + ("" if missing or new else " (same items: order or duplicates)")
        + " — if intended, update the literal (python -m tests.pipelines.test_definitions_snapshot)")


def test_assets_by_group():
    actual = current()["ASSETS_BY_GROUP"]
    _same("groups", sorted(ASSETS_BY_GROUP), sorted(actual))
    for group, keys in ASSETS_BY_GROUP.items():
        _same(f"assets of group {group!r}", keys, actual[group])


def test_source_assets():
    _same("source assets", SOURCE_ASSETS, current()["SOURCE_ASSETS"])


def test_asset_checks():
    _same("asset checks", ASSET_CHECKS, current()["ASSET_CHECKS"])


def test_jobs_schedules_and_sensors():
    now = current()
    _same("jobs", JOBS, now["JOBS"])
    _same("schedules", [f"{k} {v}" for k, v in SCHEDULES.items()], [f"{k} {v}" for k, v in now["SCHEDULES"].items()])
    _same("sensors", SENSORS, now["SENSORS"])


def test_dbt_sources_are_fed_by_ingest_assets():
    graph = defs.resolve_asset_graph()
    staging = graph.get(AssetKey(["analytics", "stg_raw__email_events"]))
    assert AssetKey(["raw", "email_events"]) in staging.parent_keys
    deals = graph.get(AssetKey(["analytics", "stg_app__deals"]))
    assert AssetKey(["app", "deals"]) in deals.parent_keys


def test_ml_lineage_and_job_membership():
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


def _strings(items: list[str], indent: int) -> str:
    body = textwrap.fill(", ".join(f'"{item}"' for item in items), width=116 - indent, break_long_words=False,
                         break_on_hyphens=False)
    return textwrap.indent(body, " " * indent)


def render() -> str:
    """The snapshot block of this file for the Definitions as they load now."""
    now = current()
    lines = ["# BEGIN SNAPSHOT", "ASSETS_BY_GROUP: dict[str, list[str]] = {"]
    for group, keys in now["ASSETS_BY_GROUP"].items():
        lines += [f'    "{group}": [', _strings(keys, 8) + ",", "    ],"]
    lines += ["}"]
    for name in ("SOURCE_ASSETS", "ASSET_CHECKS", "JOBS", "SENSORS"):
        lines += [f"{name}: list[str] = [", _strings(now[name], 4) + ",", "]"]
    lines += ["SCHEDULES: dict[str, str] = {"]
    lines += [f'    "{name}": "{cron}",' for name, cron in now["SCHEDULES"].items()]
    lines += ["}", "# END SNAPSHOT"]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render())

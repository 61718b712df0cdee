{#- Post-hook on every mart: the indexes the dashboards' filters use (`dashboards/data/*.py`). A rebuilt table
    gets new indexes with names Postgres picks (the previous build, renamed to a backup, still holds the old
    names until it is dropped); an incremental table keeps its named indexes (`if not exists`). -#}
{#- sqlfluff cannot lay out the SQL this macro assembles in jinja (loops, a DO block's dynamic statements) -#}
-- noqa: disable=LT02
{% macro dashboard_indexes() -%}
    {%- set indexes = {
        'agg_activity_daily': [['organization_id', 'activity_date'], ['user_id', 'activity_date']],
        'agg_email_engagement_daily': [['organization_id', 'dimension', 'event_date']],
        'agg_email_send_times': [['organization_id', 'sent_date']],
        'agg_pipeline_metrics': [['organization_id', 'dimension', 'period_month']],
        'agg_stage_conversion': [['organization_id']],
        'fct_forecast': [['organization_id', 'dimension', 'period_type']],
        'fct_forecast_accuracy': [['organization_id', 'dimension', 'period_type', 'snapshot_date']],
        'fct_deal_health': [['organization_id', 'stage']],
        'fct_deal_stage_durations': [['deal_id']],
        'dim_account_health': [['organization_id']],
        'fct_prospect_intent': [['organization_id', 'intent_score'], ['organization_id', 'intent_tier']],
        'fct_account_intent': [['organization_id', 'intent_score'], ['organization_id', 'intent_tier']],
        'intent_score_history': [['entity_id', 'score_date'], ['organization_id', 'entity_type', 'score_date']],
        'fct_email_events': [['organization_id', 'event', 'occurred_at']],
        'agg_search_daily': [['organization_id', 'search_date']],
        'agg_search_queries': [['organization_id', 'window_days']],
        'agg_search_click_positions': [['organization_id', 'window_days']],
        'fct_search_refinements': [['organization_id', 'search_date']],
        'dim_search_popular_queries': [['organization_id', 'popularity_rank']],
    } -%}
    {%- if execute and this.identifier in indexes -%}
        {%- for columns in indexes[this.identifier] -%}
            {%- if config.get('materialized') == 'incremental' -%}
            create index if not exists "{{ ('ix_' ~ this.identifier ~ '__' ~ columns | join('_'))[:63] }}"
                on {{ this }} ({{ columns | join(', ') }});
            {%- else -%}
            create index on {{ this }} ({{ columns | join(', ') }});
            {%- endif %}
        {% endfor -%}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

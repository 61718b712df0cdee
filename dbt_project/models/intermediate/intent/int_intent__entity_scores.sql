{{ config(materialized='incremental', unique_key=['organization_id', 'entity_type', 'entity_id'],
          incremental_strategy='delete+insert', on_schema_change='append_new_columns',
          pre_hook=["{{ reset_without_column('score_date') }}", "{{ intent_reset_on_new_day() }}"]) }}
{#- Current score, tier, trend and spike per entity (prospect or account).
    Trend: undecayed points per day over the last 7 days vs the prior 21 days (all signals, expired or not):
    increasing above 1.25×, decreasing below 0.75×, else stable. Spike: today's score at least 20 points
    above the average daily score of the previous 28 days.
    A table, incremental by entity like the history it reads (the intent marts join it to every prospect and
    account): a build recomputes the entities with signals loaded since the last one; a new day, all. -#}
-- today's score and the 28 days of the baseline are all it reads of the history
with all_history as (
    select * from {{ ref('intent_score_history') }} where score_date >= {{ as_of_date() }} - 28
),

all_signals as (
    select * from {{ ref('int_intent__entity_signals') }}
),

-- noqa: disable=LT02
{% if is_incremental() %}
touched as (
    {{ touched_entities(ref('int_intent__entity_signals'), 'loaded_at', 'signals_loaded_at') }}
),

history as (
    {{ touched_entity_rows('all_history') }}
),

entity_signals as (
    {{ touched_entity_rows('all_signals') }}
),
{% else %}
history as (
    select * from all_history
),

entity_signals as (
    select * from all_signals
),
{% endif %}
-- noqa: enable=LT02

today as (
    select * from history where score_date = {{ as_of_date() }}
),

baseline as (
    select entity_type, entity_id, sum(intent_score) / 28.0 as baseline_score
    from history
    where score_date between {{ as_of_date() }} - 28 and {{ as_of_date() }} - 1
    group by entity_type, entity_id
),

activity as (
    select
        entity_type,
        entity_id,
        sum(base_points) filter (
            where occurred_on between {{ as_of_date() }} - 6 and {{ as_of_date() }}
        ) / 7.0 as recent_rate,
        sum(base_points) filter (
            where occurred_on between {{ as_of_date() }} - 27 and {{ as_of_date() }} - 7
        ) / 21.0 as prior_rate,
        max(occurred_on) as last_signal_on,
        max(loaded_at) as signals_loaded_at
    from entity_signals
    group by entity_type, entity_id
),

final as (
    select
        t.organization_id,
        t.entity_type,
        t.entity_id,
        t.intent_score,
        t.intent_tier,
        t.active_signals,
        round(coalesce(b.baseline_score, 0), 2) as baseline_score,
        case
            when coalesce(a.recent_rate, 0) > coalesce(a.prior_rate, 0) * 1.25 and coalesce(a.recent_rate, 0) > 0
                then 'increasing'
            when coalesce(a.recent_rate, 0) < coalesce(a.prior_rate, 0) * 0.75 then 'decreasing'
            else 'stable'
        end as intent_trend,
        t.intent_score - coalesce(b.baseline_score, 0) >= 20 as is_spike,
        a.last_signal_on,
        t.score_date,
        a.signals_loaded_at
    from today as t
    left join baseline as b on b.entity_type = t.entity_type and b.entity_id = t.entity_id
    left join activity as a on a.entity_type = t.entity_type and a.entity_id = t.entity_id
)

select * from final

{{ config(materialized='incremental', unique_key='intent_history_id',
          incremental_strategy='delete+insert', on_schema_change='append_new_columns',
          pre_hook=["{{ reset_without_column('signals_loaded_at') }}", "{{ intent_reset_on_new_day() }}"]) }}
{#- Intent score per prospect/account per day (0–100) with its tier, from each entity's first signal day in
    the history window to the as-of date. Incremental by entity and day, as its daily points: a build rewrites
    the days from the first day whose points changed since the last build (the points rows loaded since, by
    `signals_loaded_at`) of the entities they belong to (delete+insert on the row's key); a new day recomputes
    every entity. `signals_loaded_at` is the day's points' (null on a day without points). -#}
with all_points as (
    select * from {{ ref('int_intent__daily_points') }}
),

-- noqa: disable=LT02
{% if is_incremental() %}
touched as (
    {#- the model, not the CTE: a CTE read twice is materialized whole -#}
    {{ touched_entities(
        ref('int_intent__daily_points'), 'signals_loaded_at', 'signals_loaded_at', from_day='score_date'
    ) }}
),

points as (
    {{ touched_entity_rows('all_points', columns=['from_day']) }}
),
{% else %}
points as (
    select *, null::date as from_day from all_points
),
{% endif %}
-- noqa: enable=LT02

entities as (
    select
        organization_id,
        entity_type,
        entity_id,
        min(score_date) as first_day,
        max(from_day) as from_day
    from points
    group by organization_id, entity_type, entity_id
),

days as (
    select generate_series(
        {{ as_of_date() }} - ({{ var('intent_history_days') }} - 1), {{ as_of_date() }}, interval '1 day'
    )::date as score_date
),

final as (
    select
        {{ surrogate_key(['e.entity_type', 'e.entity_id', 'd.score_date']) }} as intent_history_id,
        e.organization_id,
        e.entity_type,
        e.entity_id,
        d.score_date,
        least(100, round(coalesce(p.points, 0)))::integer as intent_score,
        coalesce(p.active_signals, 0)::integer as active_signals,
        p.signals_loaded_at
    from entities as e
    inner join days as d on d.score_date >= greatest(e.first_day, e.from_day)
    left join points as p
        on p.entity_type = e.entity_type and p.entity_id = e.entity_id and p.score_date = d.score_date
)

select *, {{ intent_tier('intent_score') }} as intent_tier from final

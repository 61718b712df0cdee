{{ config(materialized='incremental', unique_key=['organization_id', 'entity_type', 'entity_id', 'score_date'],
          incremental_strategy='delete+insert', on_schema_change='append_new_columns',
          pre_hook=["{{ reset_without_column('signals_loaded_at') }}", "{{ intent_reset_on_new_day() }}"],
          post_hook=["create index if not exists \"ix_int_intent__daily_points__entity\"
                          on {{ this }} (entity_type, entity_id, score_date)"]) }}
{#- Decayed intent points per entity per day of the history window.
    A signal counts from the day it occurred until it expires (an expired signal scores nothing) and for at
    most `intent_window_days`; its points are weight × strength × factor × 0.5^(age_days / half_life_days).
    Signals of an entity that share their day, half-life and last active day are summed before they are
    spread over the days (the decay is linear in the points), so a large account's tens of thousands of
    signals expand to a few hundred rows per day instead of one row per signal per day. A table, not a view:
    the history mart and this model's test read it, and each would otherwise recompute it.
    Incremental by entity and day: an entity's points depend only on its own signals and the as-of date, so a
    build recomputes just the entities with signals attributed since the last build, and of those only the days
    from the first day a new signal counts on (delete+insert on entity and day; within a day signals are only
    added, so a day that had points still has them). `signals_loaded_at` is the newest load time of the signals
    counted that day, so the rows left alone equal a full rebuild's.
    Decay moves with the as-of date: the first build of a new day (the pre-hook empties the table when its
    last day is not the as-of date) recomputes every entity, as does the nightly full rebuild. -#}
with entity_signals as (
    select * from {{ ref('int_intent__entity_signals') }}
),

-- noqa: disable=LT02
{% if is_incremental() %}
-- each entity with new signals, from the first day one of them counts on: the days before it keep their points
-- (the model itself, not the CTE above: a CTE read twice is materialized, all of it, where the scoped read can
-- use the entity index)
touched as (
    {{ touched_entities(ref('int_intent__entity_signals'), 'loaded_at', 'signals_loaded_at', from_day='occurred_on') }}
),

scoped as (
    {{ touched_entity_rows(ref('int_intent__entity_signals'), columns=['from_day']) }}
),
{% else %}
scoped as (
    select *, null::date as from_day from entity_signals
),
{% endif %}
-- noqa: enable=LT02

grouped as (
    select
        organization_id,
        entity_type,
        entity_id,
        occurred_on,
        half_life_days,
        -- the last day the signal counts on: `expires_at > day` (midnight) holds up to this day
        (expires_at - interval '1 microsecond')::date as last_day,
        from_day,
        sum(base_points) as base_points,
        count(*) as signals,
        max(loaded_at) as signals_loaded_at
    from scoped
    group by 1, 2, 3, 4, 5, 6, 7
),

-- each group's days: from its day (or the window's first) to its last day, at most intent_window_days after
-- it, at most the as-of date (generated per group, not a join with every day of the window and a filter)
spread as (
    select
        g.*,
        d.score_date::date as score_date
    from grouped as g
    cross join lateral generate_series(
        greatest(g.occurred_on, g.from_day, {{ as_of_date() }} - ({{ var('intent_history_days') }} - 1)),
        least(
            g.occurred_on + {{ var('intent_window_days') }},
            coalesce(g.last_day, {{ as_of_date() }}),
            {{ as_of_date() }}
        ),
        interval '1 day'
    ) as d (score_date)
),

final as (
    select
        organization_id,
        entity_type,
        entity_id,
        score_date,
        round(sum(base_points * {{ intent_decay('score_date - occurred_on', 'half_life_days') }}), 4) as points,
        sum(signals)::integer as active_signals,
        max(signals_loaded_at) as signals_loaded_at
    from spread
    group by 1, 2, 3, 4
)

select * from final

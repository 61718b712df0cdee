{{ config(materialized='incremental', unique_key=['organization_id', 'entity_type', 'entity_id', 'score_date'],
          incremental_strategy='delete+insert', on_schema_change='append_new_columns',
          pre_hook=["{{ reset_without_column('signals_loaded_at') }}", "{{ intent_reset_on_new_day() }}"],
          post_hook=["create index if not exists \"ix_int_intent__daily_points__entity\"
                          on {{ this }} (entity_type, entity_id, score_date)"]) }}
{#- Decayed intent points per entity per day of the history window.
    A signal counts from the day it occurred until it expires (an expired signal scores nothing) and for at
    most `intent_window_days`; its points are weight × strength × factor × 0.5^(age_days / half_life_days).
    Signals of an entity that share their day, half-life and last active day are summed, and the decay is split
    into a factor of the signal's day and one of the scored day, so each day's total is a running sum over the
    days groups start and stop counting (below): rows per entity and day, not per signal group and day.
    A table, not a view:
    the history mart and this model's test read it, and each would otherwise recompute it.
    Incremental by entity and day: an entity's points depend only on its own signals and the as-of date, so a
    build recomputes just the entities with signals attributed since the last build, and of those only the days
    from the first day a new signal counts on (delete+insert on entity and day; within a day signals are only
    added, so a day that had points still has them). `signals_loaded_at` is the newest load time of the signals
    counting on that day or before it, so the rows left alone equal a full rebuild's.
    Decay moves with the as-of date: the first build of a new day (the pre-hook empties the table when its
    last day is not the as-of date) recomputes every entity, as does the nightly full rebuild. -#}
-- noqa: disable=LT02
{% if is_incremental() %}
-- each entity with new signals, from the first day one of them counts on: the days before it keep their points
-- (the model itself in both: a CTE read twice is materialized, all of it, where the scoped read can use the
-- entity index)
with touched as (
    {{ touched_entities(ref('int_intent__entity_signals'), 'loaded_at', 'signals_loaded_at', from_day='occurred_on') }}
),

scoped as (
    {{ touched_entity_rows(ref('int_intent__entity_signals'), columns=['from_day']) }}
),
{% else %}
with scoped as (
    select *, null::date as from_day from {{ ref('int_intent__entity_signals') }}
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
    group by
        organization_id, entity_type, entity_id, occurred_on, half_life_days,
        (expires_at - interval '1 microsecond')::date, from_day
),

-- each group counts from its day (or the window's first) to its last day, at most intent_window_days after
-- it, at most the as-of date
counted as (
    select
        *,
        greatest(occurred_on, {{ as_of_date() }} - ({{ var('intent_history_days') }} - 1)) as first_counted,
        least(
            occurred_on + {{ var('intent_window_days') }}, coalesce(last_day, {{ as_of_date() }}), {{ as_of_date() }}
        ) as last_counted
    from grouped
),

-- The decay factor of a day splits into one of the signal's day and one of the scored day:
-- 0.5^((day - occurred) / half-life) = 0.5^((as_of - occurred) / half-life) × 0.5^((day - as_of) / half-life).
-- So per entity and half-life a group adds its points × its own factor (numeric) on its first day and
-- takes them away the day after its last; a running sum gives every day's total, spread over the days up to the
-- next change (rows per entity-day, not per signal group-day: 1.7M → 0.1M for 2,000 entities at 20k prospects).
changes as (
    select
        organization_id, entity_type, entity_id, half_life_days, from_day, first_counted as change_day,
        base_points * {{ intent_decay(as_of_date() ~ ' - occurred_on', 'half_life_days') }} as weighted,
        signals,
        signals_loaded_at
    from counted
    where first_counted <= last_counted
    union all
    select
        organization_id, entity_type, entity_id, half_life_days, from_day, last_counted + 1 as change_day,
        -base_points * {{ intent_decay(as_of_date() ~ ' - occurred_on', 'half_life_days') }} as weighted,
        -signals as signals,
        null as signals_loaded_at
    from counted
    where first_counted <= last_counted
),

per_day as (
    select
        organization_id, entity_type, entity_id, half_life_days, from_day, change_day,
        sum(weighted) as weighted,
        sum(signals) as signals,
        max(signals_loaded_at) as signals_loaded_at
    from changes
    group by organization_id, entity_type, entity_id, half_life_days, from_day, change_day
),

running as (
    select
        organization_id, entity_type, entity_id, half_life_days, from_day, change_day,
        sum(weighted) over entity_days as weighted,
        sum(signals) over entity_days as signals,
        -- the newest load time of the signals counted from this day on or before (a running maximum)
        max(signals_loaded_at) over entity_days as signals_loaded_at,
        lead(change_day) over entity_days as next_change
    from per_day
    window entity_days as (
        partition by organization_id, entity_type, entity_id, half_life_days order by change_day
    )
),

-- each stretch's days (from the entity's first day to recompute, when incremental)
spread as (
    select
        r.*,
        d.score_date::date as score_date
    from running as r
    cross join
        lateral generate_series(
            greatest(r.change_day, r.from_day),
            least(r.next_change - 1, {{ as_of_date() }}),
            interval '1 day'
        ) as d (score_date)
    where r.signals > 0
),

final as (
    select
        organization_id,
        entity_type,
        entity_id,
        score_date,
        -- rounded to 10 places first: the split factors carry an error far below that, and an exact tie at the
        -- 5th place (10 × 0.5^6 = 0.15625) then rounds as the per-signal factor did (equal on all 1.9M rows at 20k)
        round(round(sum(weighted * {{ intent_decay('score_date - ' ~ as_of_date(), 'half_life_days') }}), 10), 4)
            as points,
        sum(signals)::integer as active_signals,
        max(signals_loaded_at) as signals_loaded_at
    from spread
    group by organization_id, entity_type, entity_id, score_date
)

select * from final

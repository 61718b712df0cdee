{{ config(materialized='table') }}
{#- Decayed intent points per entity per day of the history window.
    A signal counts from the day it occurred until it expires (an expired signal scores nothing) and for at
    most `intent_window_days`; its points are weight × strength × factor × 0.5^(age_days / half_life_days).
    Signals of an entity that share their day, half-life and last active day are summed before they are
    spread over the days (the decay is linear in the points), so a large account's tens of thousands of
    signals expand to a few hundred rows per day instead of one row per signal per day. A table, not a view:
    the history mart and this model's test read it, and each would otherwise recompute it. -#}
with entity_signals as (
    select * from {{ ref('int_intent__entity_signals') }}
),

grouped as (
    select
        organization_id,
        entity_type,
        entity_id,
        occurred_on,
        half_life_days,
        -- the last day the signal counts on: `expires_at > day` (midnight) holds up to this day
        (expires_at - interval '1 microsecond')::date as last_day,
        sum(base_points) as base_points,
        count(*) as signals
    from entity_signals
    group by 1, 2, 3, 4, 5, 6
),

days as (
    select generate_series(
        {{ as_of_date() }} - ({{ var('intent_history_days') }} - 1),
        {{ as_of_date() }},
        interval '1 day'
    )::date as score_date
),

final as (
    select
        g.organization_id,
        g.entity_type,
        g.entity_id,
        d.score_date,
        round(sum(g.base_points * {{ intent_decay('d.score_date - g.occurred_on', 'g.half_life_days') }}), 4)
            as points,
        sum(g.signals)::integer as active_signals
    from grouped as g
    inner join days as d
        on d.score_date >= g.occurred_on
        and d.score_date - g.occurred_on <= {{ var('intent_window_days') }}
        and (g.last_day is null or g.last_day >= d.score_date)
    group by 1, 2, 3, 4
)

select * from final

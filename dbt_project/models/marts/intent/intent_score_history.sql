{#- Intent score per prospect/account per day (0–100) with its tier, from each entity's first signal day in
    the history window to the as-of date. -#}
with points as (
    select * from {{ ref('int_intent__daily_points') }}
),

entities as (
    select organization_id, entity_type, entity_id, min(score_date) as first_day
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
        coalesce(p.active_signals, 0)::integer as active_signals
    from entities as e
    inner join days as d on d.score_date >= e.first_day
    left join points as p
        on p.entity_type = e.entity_type and p.entity_id = e.entity_id and p.score_date = d.score_date
)

select *, {{ intent_tier('intent_score') }} as intent_tier from final

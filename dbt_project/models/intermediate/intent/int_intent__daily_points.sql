{#- The decayed points of every signal on every day of the history window, for each entity it is about.
    A signal counts from the day it occurred until it expires (an expired signal scores nothing) and for at
    most `intent_window_days`. points = weight × strength × factor × 0.5^(age_days / half_life_days). -#}
with entity_signals as (
    select * from {{ ref('int_intent__entity_signals') }}
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
        e.organization_id,
        e.entity_type,
        e.entity_id,
        d.score_date,
        e.signal_id,
        d.score_date - e.occurred_on as age_days,
        round(e.base_points * {{ intent_decay('d.score_date - e.occurred_on', 'e.half_life_days') }}, 4) as points
    from entity_signals as e
    inner join days as d
        on d.score_date >= e.occurred_on
        and d.score_date - e.occurred_on <= {{ var('intent_window_days') }}
        and (e.expires_at is null or e.expires_at > d.score_date)
)

select * from final

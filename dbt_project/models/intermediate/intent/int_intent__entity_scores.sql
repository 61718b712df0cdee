{#- Current score, tier, trend and spike per entity (prospect or account).
    Trend: undecayed points per day over the last 7 days vs the prior 21 days (all signals, expired or not):
    increasing above 1.25×, decreasing below 0.75×, else stable. Spike: today's score at least 20 points
    above the average daily score of the previous 28 days. -#}
with history as (
    select * from {{ ref('intent_score_history') }}
),

entity_signals as (
    select * from {{ ref('int_intent__entity_signals') }}
),

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
        max(occurred_on) as last_signal_on
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
        a.last_signal_on
    from today as t
    left join baseline as b on b.entity_type = t.entity_type and b.entity_id = t.entity_id
    left join activity as a on a.entity_type = t.entity_type and a.entity_id = t.entity_id
)

select * from final

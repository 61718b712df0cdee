{#- Intent per account as of today. -#}
with accounts as (
    select * from {{ ref('stg_app__accounts') }}
),

scores as (
    select * from {{ ref('int_intent__entity_scores') }} where entity_type = 'account'
),

final as (
    select
        a.account_id,
        a.organization_id,
        coalesce(s.intent_score, 0) as intent_score,
        coalesce(s.intent_tier, 'low') as intent_tier,
        coalesce(s.intent_trend, 'stable') as intent_trend,
        coalesce(s.is_spike, false) as is_spike,
        coalesce(s.baseline_score, 0)::numeric(8, 2) as baseline_score,
        coalesce(s.active_signals, 0) as active_signals,
        s.last_signal_on,
        {{ as_of_date() }} as as_of_date
    from accounts as a
    left join scores as s on s.entity_id = a.account_id
)

select * from final

{#- Intent per prospect as of today. Prospects without signals score 0 (low, stable). -#}
with prospects as (
    select * from {{ ref('stg_app__prospects') }}
),

scores as (
    select * from {{ ref('int_intent__entity_scores') }} where entity_type = 'prospect'
),

final as (
    select
        p.prospect_id,
        p.organization_id,
        p.account_id,
        coalesce(s.intent_score, 0) as intent_score,
        coalesce(s.intent_tier, 'low') as intent_tier,
        coalesce(s.intent_trend, 'stable') as intent_trend,
        coalesce(s.is_spike, false) as is_spike,
        coalesce(s.baseline_score, 0)::numeric(8, 2) as baseline_score,
        coalesce(s.active_signals, 0) as active_signals,
        s.last_signal_on,
        {{ as_of_date() }} as as_of_date
    from prospects as p
    left join scores as s on s.entity_id = p.prospect_id
)

select * from final

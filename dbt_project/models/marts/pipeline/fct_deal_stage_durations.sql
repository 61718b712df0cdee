{#- Time in stage per deal and stage (from status_change activities). -#}
with intervals as (
    select * from {{ ref('int_deals__stage_intervals') }}
),

final as (
    select
        stage_interval_id,
        deal_id,
        organization_id,
        stage,
        next_stage,
        entered_at,
        exited_at,
        is_current,
        round(days_in_stage::numeric, 2) as days_in_stage
    from intervals
)

select * from final

{#- Stage-to-stage conversion: of the deals that entered a stage and left it, how many moved forward
    (to a later open stage or won) vs were lost; median and average days in the stage. A move back to an
    earlier stage is neither. -#}
with intervals as (
    select * from {{ ref('int_deals__stage_intervals') }}
),

stage_order as (
    select * from (
        values
        ('discovery', 1), ('qualification', 2), ('proposal', 3), ('negotiation', 4), ('closed_won', 5),
        ('closed_lost', 6)
    ) as s (stage, stage_order)
),

final as (
    select
        {{ surrogate_key(['i.organization_id', 'i.stage']) }} as stage_conversion_id,
        i.organization_id,
        i.stage,
        min(o.stage_order) as stage_order,
        count(*) as deals_entered,
        count(*) filter (where not i.is_current) as deals_exited,
        count(*) filter (where n.stage_order > o.stage_order and n.stage <> 'closed_lost') as deals_advanced,
        count(*) filter (where n.stage = 'closed_lost') as deals_lost,
        {{ safe_divide("count(*) filter (where n.stage_order > o.stage_order and n.stage <> 'closed_lost')",
                       'count(*) filter (where not i.is_current)') }} as conversion_rate,
        round(
            (percentile_cont(0.5) within group (order by i.days_in_stage) filter (where not i.is_current))::numeric, 2
        ) as median_days_in_stage,
        round((avg(i.days_in_stage) filter (where not i.is_current))::numeric, 2) as avg_days_in_stage
    from intervals as i
    inner join stage_order as o on o.stage = i.stage
    left join stage_order as n on n.stage = i.next_stage
    where i.stage not in ('closed_won', 'closed_lost')
    group by i.organization_id, i.stage
)

select * from final

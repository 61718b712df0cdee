{#- Historical forecast accuracy: for each snapshot, the forecast (closed + commit, and the weighted total)
    vs what was actually won with a close date in that period. -#}
with snapshots as (
    select * from {{ ref('fct_forecast_snapshots') }}
),

deals as (
    select * from {{ ref('stg_app__deals') }} where is_won
),

forecasts as (
    select
        snapshot_date, organization_id, dimension, dimension_id, period_type, period_start, period_end,
        -- nothing in closed/commit is a forecast of 0 (a miss), not an unknown
        coalesce(sum(amount) filter (where forecast_category in ('closed', 'commit')), 0) as commit_forecast,
        sum(weighted_amount) as weighted_forecast
    from snapshots
    group by 1, 2, 3, 4, 5, 6, 7
),

actuals as (
    select
        f.snapshot_date, f.dimension, f.dimension_id, f.period_type,
        coalesce(sum(d.amount), 0) as actual_won_amount
    from forecasts as f
    left join deals as d
        on d.organization_id = f.organization_id
        and d.close_date >= f.period_start and d.close_date < f.period_end
        and (
            f.dimension = 'organization'
            or (f.dimension = 'team' and d.team_id = f.dimension_id)
            or (f.dimension = 'owner' and d.owner_id = f.dimension_id)
        )
    group by 1, 2, 3, 4
),

final as (
    select
        {{ surrogate_key(['f.snapshot_date', 'f.dimension', 'f.dimension_id', 'f.period_type']) }}
            as forecast_accuracy_id,
        f.*,
        a.actual_won_amount,
        f.period_end <= {{ as_of_date() }} as period_closed,
        case
            when a.actual_won_amount > 0
                then round(
                    greatest(0, 100 - abs(f.commit_forecast - a.actual_won_amount) / a.actual_won_amount * 100), 1
                )
        end as commit_accuracy_pct,
        case
            when a.actual_won_amount > 0
                then round(
                    greatest(0, 100 - abs(f.weighted_forecast - a.actual_won_amount) / a.actual_won_amount * 100), 1
                )
        end as weighted_accuracy_pct
    from forecasts as f
    inner join actuals as a
        on a.snapshot_date = f.snapshot_date and a.dimension = f.dimension
        and a.dimension_id = f.dimension_id and a.period_type = f.period_type
)

select * from final

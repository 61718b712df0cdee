{#- Pipeline by owner, team and organization per month: deals created and their value, deals won/lost
    (by close month), win rate (won / closed), average won deal size and sales-cycle length (created → closed). -#}
with deals as (
    select * from {{ ref('stg_app__deals') }}
),

dimensioned as (
    select 'organization' as dimension, d.organization_id as dimension_id, d.* from deals as d
    union all
    select 'team' as dimension, d.team_id as dimension_id, d.* from deals as d where d.team_id is not null
    union all
    select 'owner' as dimension, d.owner_id as dimension_id, d.* from deals as d where d.owner_id is not null
),

created as (
    select
        organization_id, dimension, dimension_id, date_trunc('month', created_at)::date as period_month,
        count(*) as deals_created,
        sum(amount) as pipeline_created_amount,
        sum(amount) filter (where not is_closed) as open_pipeline_amount
    from dimensioned
    group by 1, 2, 3, 4
),

closed as (
    select
        organization_id, dimension, dimension_id, date_trunc('month', closed_at)::date as period_month,
        count(*) filter (where is_won) as deals_won,
        count(*) filter (where not is_won) as deals_lost,
        coalesce(sum(amount) filter (where is_won), 0) as won_amount,
        avg(extract(epoch from closed_at - created_at) / 86400.0) filter (where is_won) as avg_sales_cycle_days
    from dimensioned
    where is_closed and closed_at is not null
    group by 1, 2, 3, 4
),

final as (
    select
        {{ surrogate_key(['coalesce(c.organization_id, k.organization_id)', 'coalesce(c.dimension, k.dimension)',
                          'coalesce(c.dimension_id, k.dimension_id)', 'coalesce(c.period_month, k.period_month)']) }}
            as pipeline_metric_id,
        coalesce(c.organization_id, k.organization_id) as organization_id,
        coalesce(c.dimension, k.dimension) as dimension,
        coalesce(c.dimension_id, k.dimension_id) as dimension_id,
        coalesce(c.period_month, k.period_month) as period_month,
        coalesce(c.deals_created, 0) as deals_created,
        coalesce(c.pipeline_created_amount, 0) as pipeline_created_amount,
        coalesce(c.open_pipeline_amount, 0) as open_pipeline_amount,
        coalesce(k.deals_won, 0) as deals_won,
        coalesce(k.deals_lost, 0) as deals_lost,
        coalesce(k.won_amount, 0) as won_amount,
        {{ safe_divide('k.deals_won', 'k.deals_won + k.deals_lost') }} as win_rate,
        round({{ safe_divide('k.won_amount', 'k.deals_won') }}, 2) as avg_deal_size,
        round(k.avg_sales_cycle_days::numeric, 1) as avg_sales_cycle_days
    from created as c
    full outer join closed as k
        on k.organization_id = c.organization_id and k.dimension = c.dimension
        and k.dimension_id = c.dimension_id and k.period_month = c.period_month
)

select * from final

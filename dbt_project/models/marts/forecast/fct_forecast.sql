{#- Forecast by category for this month, quarter and year (deals whose close date falls in the period),
    unweighted and probability-weighted, per owner, team and organization. Every category appears, even at 0. -#}
with deals as (
    select * from {{ ref('int_deals__forecast_banded') }}
),

periods as (
    select
        period_type,
        date_trunc(period_type, {{ as_of_date() }})::date as period_start,
        (date_trunc(period_type, {{ as_of_date() }}) + period_length)::date as period_end
    from (
        values ('month', interval '1 month'), ('quarter', interval '3 months'), ('year', interval '1 year')
    ) as p (period_type, period_length)
),

categories as (
    select * from (values ('pipeline'), ('best_case'), ('commit'), ('closed')) as c (forecast_category)
),

dimensioned as (
    select 'organization' as dimension, d.organization_id as dimension_id, d.* from deals as d
    union all
    select 'team' as dimension, d.team_id as dimension_id, d.* from deals as d where d.team_id is not null
    union all
    select 'owner' as dimension, d.owner_id as dimension_id, d.* from deals as d where d.owner_id is not null
),

dimensions as (
    select distinct organization_id, dimension, dimension_id from dimensioned
),

amounts as (
    select
        d.organization_id, d.dimension, d.dimension_id, p.period_type, d.forecast_category,
        count(*) as deal_count,
        sum(d.amount) as amount,
        sum(d.weighted_amount) as weighted_amount
    from dimensioned as d
    inner join periods as p on d.close_date >= p.period_start and d.close_date < p.period_end
    group by 1, 2, 3, 4, 5
),

final as (
    select
        {{ surrogate_key(['k.organization_id', 'k.dimension', 'k.dimension_id', 'p.period_type',
                          'c.forecast_category']) }} as forecast_id,
        k.organization_id,
        k.dimension,
        k.dimension_id,
        p.period_type,
        p.period_start,
        p.period_end,
        c.forecast_category,
        coalesce(a.deal_count, 0)::integer as deal_count,
        coalesce(a.amount, 0)::numeric(18, 2) as amount,
        round(coalesce(a.weighted_amount, 0), 2)::numeric(18, 2) as weighted_amount,
        {{ as_of_date() }} as as_of_date
    from dimensions as k
    cross join periods as p
    cross join categories as c
    left join amounts as a
        on a.organization_id = k.organization_id and a.dimension = k.dimension
        and a.dimension_id = k.dimension_id and a.period_type = p.period_type
        and a.forecast_category = c.forecast_category
)

select * from final

{#- Each deal's forecast category: the manual override when set, else the seed's probability bands. -#}
with deals as (
    select * from {{ ref('stg_app__deals') }}
),

final as (
    select
        deal_id,
        organization_id,
        team_id,
        owner_id,
        amount,
        probability,
        stage,
        close_date,
        case
            when forecast_category_manual then forecast_category
            else {{ forecast_category('probability', 'stage') }}
        end as forecast_category,
        round(case when stage = 'closed_won' then amount else amount * probability / 100.0 end, 2) as weighted_amount
    from deals
)

select * from final

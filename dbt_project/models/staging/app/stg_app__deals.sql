with source as (
    select * from {{ source('app', 'deals') }}
),

final as (
    select
        id as deal_id,
        organization_id,
        team_id,
        account_id,
        owner_id,
        name as deal_name,
        amount,
        probability,
        stage,
        forecast_category,
        forecast_category_manual,
        close_date,
        metadata ->> 'nextStep' as next_step,
        risk_score as current_risk_score,
        stage_changed_at,
        closed_at,
        created_at,
        stage in ('closed_won', 'closed_lost') as is_closed,
        stage = 'closed_won' as is_won
    from source
)

select * from final

with source as (
    select * from {{ source('app', 'activities') }}
),

final as (
    select
        id as activity_id,
        organization_id,
        team_id,
        user_id,
        prospect_id,
        account_id,
        deal_id,
        type as activity_type,
        metadata,
        occurred_at
    from source
)

select * from final

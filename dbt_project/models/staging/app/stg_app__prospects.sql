with source as (
    select * from {{ source('app', 'prospects') }}
),

final as (
    select
        id as prospect_id,
        organization_id,
        team_id,
        account_id,
        owner_id,
        lower(email) as email,
        title,
        department,
        seniority,
        status,
        created_at,
        intent_score as current_intent_score,
        intent_tier as current_intent_tier
    from source
)

select * from final

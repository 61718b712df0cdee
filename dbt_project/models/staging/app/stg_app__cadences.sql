with source as (
    select * from {{ source('app', 'cadences') }}
),

final as (
    select
        id as cadence_id,
        organization_id,
        team_id,
        owner_id,
        name as cadence_name,
        is_active,
        created_at
    from source
)

select * from final

with source as (
    select * from {{ source('app', 'users') }}
),

final as (
    select id as user_id, organization_id, team_id, email, full_name, role, is_active
    from source
)

select * from final

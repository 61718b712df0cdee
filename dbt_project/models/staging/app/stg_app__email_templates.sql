with source as (
    select * from {{ source('app', 'email_templates') }}
),

final as (
    select
        id as template_id,
        organization_id,
        team_id,
        name as template_name,
        category,
        is_active,
        created_at
    from source
)

select * from final

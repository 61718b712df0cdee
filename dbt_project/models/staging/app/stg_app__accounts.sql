with source as (
    select * from {{ source('app', 'accounts') }}
),

final as (
    select
        id as account_id,
        organization_id,
        team_id,
        owner_id,
        name as account_name,
        lower(domain) as domain,
        industry,
        employee_count,
        annual_revenue,
        created_at
    from source
)

select * from final

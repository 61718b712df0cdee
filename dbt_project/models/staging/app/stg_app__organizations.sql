with source as (
    select * from {{ source('app', 'organizations') }}
),

final as (
    select
        id as organization_id,
        name as organization_name,
        slug as organization_slug
    from source
)

select * from final

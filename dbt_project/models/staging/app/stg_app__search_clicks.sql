with source as (
    select * from {{ source('app', 'search_clicks') }}
),

final as (
    select
        id as click_id,
        organization_id,
        search_id,
        user_id,
        entity,
        record_id,
        position,
        created_at as clicked_at
    from source
)

select * from final

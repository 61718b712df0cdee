with source as (
    select * from {{ source('app', 'search_popular_queries') }}
),

final as (
    select
        {{ surrogate_key(['organization_id', 'normalized_query']) }} as popular_query_id,
        organization_id,
        normalized_query,
        search_count,
        result_count,
        last_searched_at
    from source
)

select * from final

{#- The popular queries of each organization, ranked as suggestions offer them (the most searched first). -#}
with popular as (
    select * from {{ ref('stg_app__search_popular_queries') }}
    where normalized_query <> ''
),

final as (
    select
        popular_query_id,
        organization_id,
        normalized_query,
        search_count,
        result_count,
        last_searched_at,
        row_number() over (
            partition by organization_id order by search_count desc, last_searched_at desc, normalized_query asc
        ) as popularity_rank
    from popular
)

select * from final

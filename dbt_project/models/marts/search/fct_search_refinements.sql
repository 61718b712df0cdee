{#- One row per refined search: the same user ran a different query within `search_refinement_minutes` — the
    definition of `serving/search/service.py analytics()` (seed 7.4, "query refinements"). -#}
with searches as (
    select * from {{ ref('stg_app__search_analytics') }}
    -- an API key's searches have no person behind them to refine anything
    where user_id is not null
),

ordered as (
    select
        search_id,
        organization_id,
        user_id,
        normalized_query,
        searched_at,
        search_date,
        lead(search_id) over by_user as next_search_id,
        lead(normalized_query) over by_user as next_query,
        lead(searched_at) over by_user as next_searched_at
    from searches
    window by_user as (partition by organization_id, user_id order by searched_at, search_id)
),

final as (
    select
        search_id,
        organization_id,
        user_id,
        normalized_query,
        next_search_id,
        next_query,
        searched_at,
        search_date,
        round(extract(epoch from next_searched_at - searched_at)::numeric, 1) as seconds_to_next
    from ordered
    where
        next_query is not null
        and next_query <> normalized_query
        and next_searched_at - searched_at <= make_interval(mins => {{ var('search_refinement_minutes') }})
)

select * from final

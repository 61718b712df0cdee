{#- Each query's searches, zero results and clicks per organization over the last 7, 30 and 90 days up to the
    as-of date: the top searches and the zero-result searches of the dashboard (seed 7.4). -#}
with searches as (
    select * from {{ ref('stg_app__search_analytics') }}
    -- a search with no text (filters only) is not a query anyone typed
    where normalized_query <> ''
),

clicks as (
    select
        search_id,
        count(*) as clicks
    from {{ ref('stg_app__search_clicks') }}
    group by search_id
),

windows as (
    select window_days from (values (7), (30), (90)) as w (window_days)
),

final as (
    select
        {{ surrogate_key(['s.organization_id', 'w.window_days', 's.normalized_query']) }} as search_query_id,
        s.organization_id,
        w.window_days,
        {{ as_of_date() }} as as_of_date,
        s.normalized_query,
        count(*) as searches,
        count(distinct s.user_id) as searchers,
        count(*) filter (where s.is_zero_result) as zero_result_searches,
        round(avg(s.result_count), 1) as avg_results,
        count(c.search_id) as searches_with_click,
        {{ safe_divide('count(c.search_id)', 'count(*)') }} as click_through_rate,
        max(s.searched_at) as last_searched_at
    from searches as s
    cross join windows as w
    left join clicks as c on s.search_id = c.search_id
    where
        s.search_date > {{ as_of_date() }} - w.window_days
        and s.search_date <= {{ as_of_date() }}
    group by s.organization_id, w.window_days, s.normalized_query
)

select * from final

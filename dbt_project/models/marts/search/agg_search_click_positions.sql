{#- Click-through rate by result position per organization over the last 7, 30 and 90 days: clicks at a rank over
    every search of the window, as `serving/search/service.py analytics()` computes it (seed 7.4). -#}
with searches as (
    select * from {{ ref('stg_app__search_analytics') }}
),

clicks as (
    select * from {{ ref('stg_app__search_clicks') }}
),

windows as (
    select window_days from (values (7), (30), (90)) as w (window_days)
),

searches_in_window as (
    select
        s.organization_id,
        w.window_days,
        count(*) as searches
    from searches as s
    cross join windows as w
    where s.search_date > {{ as_of_date() }} - w.window_days and s.search_date <= {{ as_of_date() }}
    group by s.organization_id, w.window_days
),

clicks_in_window as (
    -- a click counts in the window of the search it came from
    select
        s.organization_id,
        w.window_days,
        c.position,
        count(*) as clicks
    from clicks as c
    inner join searches as s on c.search_id = s.search_id
    cross join windows as w
    where s.search_date > {{ as_of_date() }} - w.window_days and s.search_date <= {{ as_of_date() }}
    group by s.organization_id, w.window_days, c.position
),

final as (
    select
        {{ surrogate_key(['k.organization_id', 'k.window_days', 'k.position']) }} as click_position_id,
        k.organization_id,
        k.window_days,
        {{ as_of_date() }} as as_of_date,
        k.position,
        k.clicks,
        n.searches,
        {{ safe_divide('k.clicks', 'n.searches') }} as click_through_rate
    from clicks_in_window as k
    inner join searches_in_window as n
        on k.organization_id = n.organization_id and k.window_days = n.window_days
)

select * from final

{#- Searches, searchers, zero results, latency and click-through per organization per UTC day (seed 7.4). -#}
with searches as (
    select * from {{ ref('stg_app__search_analytics') }}
),

clicks as (
    select
        search_id,
        count(*) as clicks
    from {{ ref('stg_app__search_clicks') }}
    group by search_id
),

final as (
    select
        {{ surrogate_key(['s.organization_id', 's.search_date']) }} as search_day_id,
        s.organization_id,
        s.search_date,
        count(*) as searches,
        count(distinct s.user_id) as searchers,
        count(*) filter (where s.is_zero_result) as zero_result_searches,
        {{ safe_divide('count(*) filter (where s.is_zero_result)', 'count(*)') }} as zero_result_rate,
        round(avg(s.latency_ms), 1) as avg_latency_ms,
        percentile_cont(0.95) within group (order by s.latency_ms) as p95_latency_ms,
        count(c.search_id) as searches_with_click,
        coalesce(sum(c.clicks), 0)::bigint as clicks,
        {{ safe_divide('count(c.search_id)', 'count(*)') }} as click_through_rate
    from searches as s
    left join clicks as c on s.search_id = c.search_id
    group by s.organization_id, s.search_date
)

select * from final

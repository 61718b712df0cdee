{#- Website sessions and high-intent page views per account (visitors attributed through their prospects). -#}
with accounts as (
    select * from {{ ref('stg_app__accounts') }}
),

web as (
    select
        account_id,
        count(*) as web_sessions,
        count(distinct prospect_id) as known_visitors,
        sum(page_views) as page_views,
        sum(high_intent_page_views) as high_intent_page_views,
        max(ended_at) as last_web_visit_at
    from {{ ref('fct_website_sessions') }}
    where account_id is not null
    group by account_id
),

final as (
    select
        a.account_id,
        a.organization_id,
        coalesce(w.web_sessions, 0) as web_sessions,
        coalesce(w.known_visitors, 0) as known_visitors,
        coalesce(w.page_views, 0) as page_views,
        coalesce(w.high_intent_page_views, 0) as high_intent_page_views,
        w.last_web_visit_at
    from accounts as a
    left join web as w on w.account_id = a.account_id
)

select * from final

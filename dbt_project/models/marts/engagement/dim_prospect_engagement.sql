{#- Email and website engagement per prospect (all time, and the last 30 days). -#}
with prospects as (
    select * from {{ ref('stg_app__prospects') }}
),

email as (
    select
        prospect_id,
        count(distinct message_key) filter (where event = 'processed') as emails_sent,
        count(distinct message_key) filter (where event = 'delivered') as emails_delivered,
        count(distinct message_key) filter (where event = 'open') as emails_opened,
        count(distinct message_key) filter (where event = 'click') as emails_clicked,
        count(distinct message_key) filter (where event = 'reply') as emails_replied,
        count(distinct message_key) filter (where event in ('bounce', 'dropped')) as emails_bounced,
        count(distinct message_key) filter (where event in ('unsubscribe', 'group_unsubscribe')) as unsubscribes,
        max(occurred_at) filter (where event in ('open', 'click', 'reply')) as last_email_engagement_at
    from {{ ref('fct_email_events') }}
    where prospect_id is not null
    group by prospect_id
),

web as (
    select
        prospect_id,
        count(*) as web_sessions,
        count(*) filter (where started_at >= {{ as_of_date() }} - 30) as web_sessions_30d,
        sum(page_views) as page_views,
        sum(high_intent_page_views) as high_intent_page_views,
        max(ended_at) as last_web_visit_at
    from {{ ref('fct_website_sessions') }}
    where prospect_id is not null
    group by prospect_id
),

final as (
    select
        p.prospect_id,
        p.organization_id,
        p.account_id,
        coalesce(e.emails_sent, 0) as emails_sent,
        coalesce(e.emails_delivered, 0) as emails_delivered,
        coalesce(e.emails_opened, 0) as emails_opened,
        coalesce(e.emails_clicked, 0) as emails_clicked,
        coalesce(e.emails_replied, 0) as emails_replied,
        coalesce(e.emails_bounced, 0) as emails_bounced,
        coalesce(e.unsubscribes, 0) as unsubscribes,
        {{ safe_divide('e.emails_opened', 'e.emails_delivered') }} as open_rate,
        {{ safe_divide('e.emails_clicked', 'e.emails_delivered') }} as click_rate,
        {{ safe_divide('e.emails_replied', 'e.emails_delivered') }} as reply_rate,
        e.last_email_engagement_at,
        coalesce(w.web_sessions, 0) as web_sessions,
        coalesce(w.web_sessions_30d, 0) as web_sessions_30d,
        coalesce(w.page_views, 0) as page_views,
        coalesce(w.high_intent_page_views, 0) as high_intent_page_views,
        w.last_web_visit_at
    from prospects as p
    left join email as e on e.prospect_id = p.prospect_id
    left join web as w on w.prospect_id = p.prospect_id
)

select * from final

{#- Sessions: a visitor's events with no gap longer than `session_gap_minutes`. -#}
with events as (
    select * from {{ ref('int_website__events_attributed') }}
),

ordered as (
    select
        *,
        coalesce(anonymous_id, 'user:' || user_id) as visitor_id,
        case
            when lag(occurred_at) over (
                partition by organization_id, coalesce(anonymous_id, 'user:' || user_id) order by occurred_at
            ) > occurred_at - interval '{{ var("session_gap_minutes") }} minutes' then 0
            else 1
        end as is_new_session
    from events
),

numbered as (
    select
        *,
        sum(is_new_session) over (
            partition by organization_id, visitor_id order by occurred_at, website_event_id
        ) as session_number
    from ordered
),

final as (
    select
        {{ surrogate_key(['organization_id', 'visitor_id', 'session_number']) }} as session_id,
        organization_id,
        visitor_id,
        max(prospect_id::text)::uuid as prospect_id,
        max(account_id::text)::uuid as account_id,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        count(*) as event_count,
        count(*) filter (where event_type = 'page') as page_views,
        count(*) filter (where event_type = 'page' and is_high_intent_page) as high_intent_page_views
    from numbered
    group by organization_id, visitor_id, session_number
)

select * from final

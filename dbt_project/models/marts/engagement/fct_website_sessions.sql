-- depends_on: {{ ref('fct_website_events') }}
{{ config(materialized='incremental', unique_key=['organization_id', 'visitor_id'],
          incremental_strategy='delete+insert', on_schema_change='append_new_columns') }}
{#- Sessions: a visitor's events with no gap longer than `session_gap_minutes` (a gap of exactly that keeps it).
    Incremental by visitor: a run recomputes every session of the visitors with events loaded since the last
    run (a late event can merge or split their sessions) and leaves the others alone. A prospect created in
    the CRM after a visitor's last event gets that visitor's old sessions at the nightly full rebuild. -#}
with events as (
    select *, coalesce(anonymous_id, 'user:' || user_id) as visitor_id
    from {{ ref('int_website__events_attributed') }}
    where coalesce(anonymous_id, user_id) is not null
),

-- noqa: disable=LT02
-- (the CTEs inside the if/else stay at CTE level, not indented as sqlfluff wants for jinja blocks)
{% if is_incremental() %}
touched as (
    select distinct organization_id, coalesce(anonymous_id, 'user:' || user_id) as visitor_id
    from {{ ref('fct_website_events') }}
    where loaded_at > (select coalesce(max(prev.last_loaded_at), '-infinity'::timestamptz) from {{ this }} as prev)
        and coalesce(anonymous_id, user_id) is not null
),

scoped as (
    select e.*
    from events as e
    inner join touched as t on t.organization_id = e.organization_id and t.visitor_id = e.visitor_id
),
{% else %}
scoped as (
    select * from events
),
{% endif %}
-- noqa: enable=LT02

ordered as (
    select
        *,
        case
            when lag(occurred_at) over (partition by organization_id, visitor_id order by occurred_at)
                >= occurred_at - interval '{{ var("session_gap_minutes") }} minutes' then 0
            else 1
        end as is_new_session
    from scoped
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
        count(*) filter (where event_type = 'page' and is_high_intent_page) as high_intent_page_views,
        max(loaded_at) as last_loaded_at
    from numbered
    group by organization_id, visitor_id, session_number
)

select * from final

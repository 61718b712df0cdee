{{ config(materialized='incremental', unique_key='engagement_day_id', incremental_strategy='delete+insert',
          on_schema_change='append_new_columns') }}
{#- Email funnel per day by prospect, template, cadence and campaign (one row per dimension value and day).
    Counts are distinct messages; rates are over delivered messages (bounce rate over sent).
    Incremental by row: a build recomputes, from all their events, the rows (dimension value and day) that
    events loaded since the last build belong to (delete+insert on the row's key); `events_loaded_at` (the
    newest load time of a row's events) is the watermark. Events are only added, so no row loses its events;
    a late-attributed prospect reaches its rows at the nightly full rebuild, as in fct_email_events. -#}
with events as (
    select * from {{ ref('fct_email_events') }}
),

-- noqa: disable=LT02
{% if is_incremental() %}
new_events as (
    select * from {{ ref('fct_email_events') }}
    where loaded_at > {{ incremental_watermark('events_loaded_at') }}
),
{% endif %}
-- noqa: enable=LT02

dimensioned as (
    {%- for dimension in ['prospect', 'template', 'cadence', 'campaign'] %}
        select
            organization_id,
            '{{ dimension }}' as dimension,
            {{ dimension }}_id as dimension_id,
            event_date,
            event,
            message_key,
            loaded_at
        from events
        where
            {{ dimension }}_id is not null
            {%- if is_incremental() %}
                and ({{ dimension }}_id, event_date) in (
                    select n.{{ dimension }}_id, n.event_date from new_events as n
                    where n.{{ dimension }}_id is not null
                )
            {%- endif %}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

counted as (
    select
        organization_id,
        dimension,
        dimension_id,
        event_date,
        count(distinct message_key) filter (where event = 'processed') as sent,
        count(distinct message_key) filter (where event = 'delivered') as delivered,
        count(distinct message_key) filter (where event = 'open') as opened,
        count(distinct message_key) filter (where event = 'click') as clicked,
        count(distinct message_key) filter (where event = 'reply') as replied,
        count(distinct message_key) filter (where event in ('bounce', 'dropped')) as bounced,
        count(distinct message_key) filter (where event in ('unsubscribe', 'group_unsubscribe')) as unsubscribed,
        count(distinct message_key) filter (where event = 'spamreport') as spam_reports,
        max(loaded_at) as events_loaded_at
    from dimensioned
    group by organization_id, dimension, dimension_id, event_date
),

final as (
    select
        {{ surrogate_key(['organization_id', 'dimension', 'dimension_id', 'event_date']) }} as engagement_day_id,
        *,
        {{ safe_divide('opened', 'delivered') }} as open_rate,
        {{ safe_divide('clicked', 'delivered') }} as click_rate,
        {{ safe_divide('replied', 'delivered') }} as reply_rate,
        {{ safe_divide('bounced', 'sent') }} as bounce_rate,
        {{ safe_divide('unsubscribed', 'delivered') }} as unsubscribe_rate
    from counted
)

select * from final

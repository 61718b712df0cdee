{#- Messages by the day and hour they were sent (UTC), with how many of them were opened or replied to (at any
    time after): the "best time to send" heatmap sums these over a date range. -#}
with events as (
    select * from {{ ref('fct_email_events') }}
),

messages as (
    select
        organization_id,
        message_key,
        min(occurred_at) filter (where event = 'processed') as sent_at,
        bool_or(event = 'open') as opened,
        bool_or(event = 'reply') as replied
    from events
    where event in ('processed', 'open', 'reply')
    group by organization_id, message_key
),

final as (
    select
        {{ surrogate_key(['organization_id', 'sent_at::date', 'extract(hour from sent_at)']) }} as send_slot_id,
        organization_id,
        sent_at::date as sent_date,
        extract(isodow from sent_at)::integer as weekday,
        extract(hour from sent_at)::integer as hour,
        count(*)::integer as sent,
        count(*) filter (where opened)::integer as opened,
        count(*) filter (where replied)::integer as replied
    from messages
    where sent_at is not null
    group by organization_id, sent_at::date, extract(isodow from sent_at), extract(hour from sent_at)
)

select * from final

{#- Email funnel per day by prospect, template, cadence and campaign (one row per dimension value and day).
    Counts are distinct messages; rates are over delivered messages (bounce rate over sent). -#}
with events as (
    select * from {{ ref('fct_email_events') }}
),

dimensioned as (
    select organization_id, 'prospect' as dimension, prospect_id as dimension_id, event_date, event, message_key
    from events where prospect_id is not null
    union all
    select organization_id, 'template' as dimension, template_id as dimension_id, event_date, event, message_key
    from events where template_id is not null
    union all
    select organization_id, 'cadence' as dimension, cadence_id as dimension_id, event_date, event, message_key
    from events where cadence_id is not null
    union all
    select organization_id, 'campaign' as dimension, campaign_id as dimension_id, event_date, event, message_key
    from events where campaign_id is not null
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
        count(distinct message_key) filter (where event = 'spamreport') as spam_reports
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

{#- Calls, emails, meetings and LinkedIn touches per user per day (seed 7.1). -#}
with activities as (
    select * from {{ ref('stg_app__activities') }}
),

final as (
    select
        {{ surrogate_key(['organization_id', 'user_id', 'occurred_at::date']) }} as activity_day_id,
        organization_id,
        user_id,
        occurred_at::date as activity_date,
        count(*) filter (where activity_type in ('call_made', 'call_received')) as calls,
        count(*) filter (where activity_type = 'email_sent') as emails_sent,
        count(*) filter (where activity_type in ('meeting_scheduled', 'meeting_completed')) as meetings,
        count(*) filter (where activity_type = 'meeting_completed') as meetings_completed,
        count(*) filter (where activity_type = 'linkedin_interaction') as linkedin_touches,
        count(*) filter (where activity_type = 'sms_sent') as sms_sent,
        count(*) filter (where activity_type not in ('status_change', 'note_added')) as total_touches
    from activities
    where user_id is not null
    group by organization_id, user_id, occurred_at::date
)

select * from final

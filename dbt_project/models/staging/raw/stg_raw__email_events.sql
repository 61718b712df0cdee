with source as (
    select * from {{ source('raw', 'email_events') }}
),

final as (
    select
        id as email_event_id,
        sg_event_id,
        coalesce(sg_message_id, sg_event_id) as message_key,
        organization_id,
        event,
        lower(email) as email,
        occurred_at,
        prospect_id,
        campaign_id,
        cadence_id,
        template_id,
        url,
        bounce_type,
        loaded_at
    from source
    where organization_id is not null
)

select * from final

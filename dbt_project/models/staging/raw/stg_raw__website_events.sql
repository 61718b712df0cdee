with source as (
    select * from {{ source('raw', 'website_events') }}
),

final as (
    select
        id as website_event_id,
        organization_id,
        message_id,
        type as event_type,
        event as event_name,
        anonymous_id,
        user_id,
        lower(email) as email,
        url,
        path,
        title,
        referrer,
        occurred_at,
        loaded_at
    from source
    where organization_id is not null
)

select * from final

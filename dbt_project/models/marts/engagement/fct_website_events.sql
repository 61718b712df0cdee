{{ config(materialized='incremental', unique_key='website_event_id', incremental_strategy='delete+insert') }}
{#- Every website event (page, track, identify…); prospect attribution happens downstream so identify calls
    can attribute earlier anonymous events. -#}
with events as (
    select * from {{ ref('stg_raw__website_events') }}
    {% if is_incremental() %}
        where loaded_at > (select coalesce(max(prev.loaded_at), '-infinity'::timestamptz) from {{ this }} as prev)
    {% endif %}
),

final as (
    select
        website_event_id,
        organization_id,
        message_id,
        event_type,
        event_name,
        anonymous_id,
        user_id,
        email,
        url,
        path,
        title,
        referrer,
        occurred_at,
        {{ is_high_intent_path('path') }} as is_high_intent_page,
        loaded_at
    from events
)

select * from final

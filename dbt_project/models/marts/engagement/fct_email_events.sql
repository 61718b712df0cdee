{{ config(materialized='incremental', unique_key='sg_event_id', incremental_strategy='delete+insert',
          on_schema_change='append_new_columns') }}
{#- One row per SendGrid event, with the prospect it concerns (by id, else by email in the organization). -#}
with events as (
    select * from {{ ref('stg_raw__email_events') }}
    {% if is_incremental() %}
        where loaded_at > (select coalesce(max(prev.loaded_at), '-infinity'::timestamptz) from {{ this }} as prev)
    {% endif %}
),

prospects as (
    select * from {{ ref('stg_app__prospects') }}
),

final as (
    select
        e.sg_event_id,
        e.message_key,
        e.organization_id,
        e.event,
        e.email,
        e.occurred_at,
        e.occurred_at::date as event_date,
        coalesce(e.prospect_id, p.prospect_id) as prospect_id,
        e.campaign_id,
        e.cadence_id,
        e.template_id,
        e.url,
        e.bounce_type,
        e.loaded_at
    from events as e
    left join prospects as p on p.organization_id = e.organization_id and p.email = e.email
)

select * from final

{#- Every intent signal as landed, for the intent page's signals-by-type table. A view (security_invoker) over
    raw.intent_signals, so the landing table's row-level security applies to the dashboards' read-only role. -#}
{{ config(materialized='view') }}

with signals as (
    select * from {{ ref('stg_raw__intent_signals') }}
),

final as (
    select
        signal_id,
        organization_id,
        signal_type,
        account_domain,
        prospect_email,
        topic,
        strength,
        occurred_at,
        occurred_on,
        expires_at,
        provider
    from signals
)

select * from final

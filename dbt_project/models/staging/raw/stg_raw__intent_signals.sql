with source as (
    select * from {{ source('raw', 'intent_signals') }}
),

final as (
    select
        id as signal_id,
        organization_id,
        signal_type,
        lower(account_domain) as account_domain,
        lower(prospect_email) as prospect_email,
        topic,
        strength,
        occurred_at,
        occurred_at::date as occurred_on,
        expires_at,
        provider,
        loaded_at
    from source
)

select * from final

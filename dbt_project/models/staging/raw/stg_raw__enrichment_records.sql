with source as (
    select * from {{ source('raw', 'enrichment_records') }}
),

final as (
    select
        id as enrichment_record_id,
        organization_id,
        entity_type,
        provider,
        fetched_at,
        case when entity_type = 'person' then lower(email) else lower(domain) end as entity_key,
        payload,
        loaded_at
    from source
)

select * from final

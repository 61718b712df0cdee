{#- The waterfall: every field of every provider record, ranked per entity and field by provider priority,
    the freshest fetch winning ties (same provider, or providers of equal priority). Rank 1 is the value
    the merged profile keeps. -#}
with records as (
    select * from {{ ref('stg_raw__enrichment_records') }}
),

priority as (
    select * from {{ ref('enrichment_provider_priority') }}
),

fields as (
    select
        r.organization_id,
        r.entity_type,
        r.entity_key,
        r.provider,
        coalesce(p.priority, 999) as provider_priority,
        r.fetched_at,
        r.enrichment_record_id,
        f.key as field,
        f.value
    from records as r
    cross join lateral jsonb_each(r.payload) as f
    left join priority as p on p.provider = r.provider
),

final as (
    select
        *,
        row_number() over (
            partition by organization_id, entity_type, entity_key, field
            order by provider_priority asc, fetched_at desc, enrichment_record_id desc
        ) as field_rank
    from fields
)

select * from final

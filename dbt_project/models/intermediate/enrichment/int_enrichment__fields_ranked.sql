{#- The waterfall: every field of every provider record — landed vendor files (`raw.enrichment_records`) and the
    serving layer's enrichment stored on prospects (`prospects.enrichment_data`) — ranked per entity and field by
    provider priority, the freshest fetch winning ties (same provider, or providers of equal priority). Rank 1 is
    the value the merged profile keeps. `source_record` names where a row came from. -#}
with records as (
    select * from {{ ref('stg_raw__enrichment_records') }}
),

stored as (
    select * from {{ ref('stg_app__prospect_enrichment') }}
),

priority as (
    select * from {{ ref('enrichment_provider_priority') }}
),

landed_fields as (
    select
        r.organization_id,
        r.entity_type,
        r.entity_key,
        r.provider,
        r.fetched_at,
        r.enrichment_record_id,
        cast(null as uuid) as prospect_id,
        'landed:' || r.enrichment_record_id as source_record,
        f.key as field,
        f.value
    from records as r
    cross join lateral jsonb_each(r.payload) as f
),

stored_fields as (
    select
        organization_id,
        entity_type,
        entity_key,
        value_source,
        fetched_at,
        cast(null as bigint) as enrichment_record_id,
        prospect_id,
        'prospect:' || prospect_id as source_record,
        field,
        field_value
    from stored
),

fields as (
    select * from landed_fields
    union all
    select * from stored_fields
),

final as (
    select
        f.*,
        coalesce(p.priority, 999) as provider_priority,
        row_number() over (
            partition by f.organization_id, f.entity_type, f.entity_key, f.field
            order by
                coalesce(p.priority, 999) asc, f.fetched_at desc nulls last, f.enrichment_record_id desc nulls last,
                f.source_record desc
        ) as field_rank
    from fields as f
    left join priority as p on p.provider = f.provider
)

select * from final

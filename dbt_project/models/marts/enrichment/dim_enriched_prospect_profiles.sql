{#- One merged enrichment profile per prospect (waterfall rank 1 of every field), with where each came from. -#}
with ranked as (
    select * from {{ ref('int_enrichment__fields_ranked') }} where entity_type = 'person' and field_rank = 1
),

prospects as (
    select * from {{ ref('stg_app__prospects') }}
),

merged as (
    select
        organization_id,
        entity_key as email,
        jsonb_object_agg(field, value) as profile,
        jsonb_object_agg(field, provider) as field_sources,
        count(distinct provider) as provider_count,
        max(fetched_at) as last_fetched_at
    from ranked
    group by organization_id, entity_key
),

final as (
    select
        p.prospect_id,
        p.organization_id,
        m.profile,
        m.field_sources,
        m.provider_count,
        m.last_fetched_at,
        m.profile ->> 'title' as title,
        m.profile ->> 'seniority' as seniority,
        m.profile ->> 'department' as department
    from prospects as p
    inner join merged as m on m.organization_id = p.organization_id and m.email = p.email
)

select * from final

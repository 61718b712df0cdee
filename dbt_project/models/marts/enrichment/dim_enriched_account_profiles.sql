{#- One merged enrichment profile per account (by domain). -#}
with ranked as (
    select * from {{ ref('int_enrichment__fields_ranked') }} where entity_type = 'company' and field_rank = 1
),

accounts as (
    select * from {{ ref('stg_app__accounts') }}
),

merged as (
    select
        organization_id,
        entity_key as domain,
        jsonb_object_agg(field, value) as profile,
        jsonb_object_agg(field, provider) as field_sources,
        count(distinct provider) as provider_count,
        max(fetched_at) as last_fetched_at
    from ranked
    group by organization_id, entity_key
),

final as (
    select
        a.account_id,
        a.organization_id,
        m.profile,
        m.field_sources,
        m.provider_count,
        m.last_fetched_at,
        m.profile ->> 'industry' as industry,
        case when m.profile ->> 'employees' ~ '^\d+$' then (m.profile ->> 'employees')::integer end as employee_count,
        case when m.profile ->> 'annual_revenue' ~ '^\d+(\.\d+)?$' then (m.profile ->> 'annual_revenue')::numeric end
            as annual_revenue,
        case
            when jsonb_typeof(m.profile -> 'technologies') = 'array'
                then jsonb_array_length(m.profile -> 'technologies')
            else 0
        end as technographics_count
    from accounts as a
    inner join merged as m on m.organization_id = a.organization_id and m.domain = a.domain
)

select * from final

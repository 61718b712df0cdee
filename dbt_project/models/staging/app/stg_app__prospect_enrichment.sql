{#- The provider waterfall's results stored on prospects (`prospects.enrichment_data`, written by the serving
    layer's enrichment: `{field: {value, source, confidence, fetched_at}}`), one row per prospect and field,
    in the vocabulary of the landed vendor records: person fields keyed by the prospect's e-mail, company fields
    keyed by the company domain the providers found (else the e-mail's domain). -#}
with prospects as (
    select * from {{ source('app', 'prospects') }}
    where jsonb_typeof(enrichment_data) = 'object' and enrichment_data <> '{}'::jsonb
),

fields as (
    select
        p.id as prospect_id,
        p.organization_id,
        lower(p.email) as email,
        lower(coalesce(
            p.enrichment_data -> 'company_domain' ->> 'value', split_part(p.email, '@', 2)
        )) as company_domain,
        f.key as app_field,
        f.value -> 'value' as field_value,
        f.value ->> 'source' as value_source,
        case when f.value ->> 'confidence' ~ '^\d+(\.\d+)?$' then (f.value ->> 'confidence')::numeric end
            as confidence,
        case
            when f.value ->> 'fetched_at' ~ '^\d{4}-\d{2}-\d{2}' then (f.value ->> 'fetched_at')::timestamptz
        end as fetched_at
    from prospects as p
    cross join lateral jsonb_each(p.enrichment_data) as f
    where jsonb_typeof(f.value) = 'object' and f.value ? 'value' and f.value ->> 'source' is not null
),

final as (
    select
        prospect_id,
        organization_id,
        case
            when app_field in ('industry', 'employee_count', 'revenue', 'technologies', 'company_name')
                then 'company'
            else 'person'
        end as entity_type,
        case
            when app_field in ('industry', 'employee_count', 'revenue', 'technologies', 'company_name')
                then company_domain
            else email
        end as entity_key,
        case app_field
            when 'employee_count' then 'employees'
            when 'revenue' then 'annual_revenue'
            when 'company_name' then 'name'
            else app_field
        end as field,
        field_value,
        value_source,
        confidence,
        fetched_at
    from fields
    where app_field <> 'company_domain'
)

select * from final

{#- Quarantined input with the reason and the organization whose landing folder it came from, for the data-health
    page. A view (security_invoker) over raw.rejected_records: the payload stays out (it can hold personal data)
    and the quarantine's folder-based row-level security applies to the dashboards' read-only role. -#}
{{ config(materialized='view') }}

with rejected as (
    select * from {{ ref('stg_raw__rejected_records') }}
),

organizations as (
    select * from {{ ref('stg_app__organizations') }}
),

final as (
    select
        r.rejected_record_id,
        o.organization_id,
        r.landing_source,
        r.source_file,
        r.line_number,
        r.reason,
        r.rejected_at
    from rejected as r
    -- API rejects carry no file, hence no organization: they stay visible to the owner only
    left join organizations as o
        on r.organization_folder in (o.organization_slug, cast(o.organization_id as text))
)

select * from final

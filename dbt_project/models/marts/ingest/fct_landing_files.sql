{#- Every landing file the ingest assets processed, with the organization whose folder it came from, for the
    data-health page. A view (security_invoker) over raw.file_ledger: a file loaded a minute ago shows now, and
    the ledger's folder-based row-level security applies to the dashboards' read-only role. -#}
{{ config(materialized='view') }}

with files as (
    select * from {{ ref('stg_raw__file_ledger') }}
),

organizations as (
    select * from {{ ref('stg_app__organizations') }}
),

final as (
    select
        f.landing_file_id,
        o.organization_id,
        f.landing_source,
        f.path,
        f.size_bytes,
        f.rows_loaded,
        f.rows_rejected,
        f.status,
        f.reason,
        f.loaded_at
    from files as f
    -- the folder is the organization's slug or its id (see pipelines/ingest); another folder has no organization
    left join organizations as o
        on f.organization_folder in (o.organization_slug, cast(o.organization_id as text))
)

select * from final

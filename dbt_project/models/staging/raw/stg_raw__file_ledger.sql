with source as (
    select * from {{ source('raw', 'file_ledger') }}
),

final as (
    select
        {{ surrogate_key(['source', 'path', 'checksum']) }} as landing_file_id,
        source as landing_source,
        path,
        -- landing files live under <source>/<organization slug or id>/…
        split_part(path, '/', 2) as organization_folder,
        checksum,
        size_bytes,
        rows_loaded,
        rows_rejected,
        status,
        reason,
        loaded_at
    from source
)

select * from final

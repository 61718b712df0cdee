with source as (
    select * from {{ source('raw', 'rejected_records') }}
),

final as (
    select
        id as rejected_record_id,
        source as landing_source,
        source_file,
        line_number,
        reason,
        rejected_at,
        -- API rejects carry no file, hence no folder (and no organization)
        nullif(split_part(source_file, '/', 2), '') as organization_folder
    from source
)

select * from final

{#- Deal stage changes, recorded by the API as `status_change` activities with metadata {field: stage, from, to}. -#}
with activities as (
    select * from {{ ref('stg_app__activities') }}
),

final as (
    select
        activity_id as transition_id,
        organization_id,
        deal_id,
        metadata ->> 'from' as from_stage,
        metadata ->> 'to' as to_stage,
        occurred_at as changed_at
    from activities
    where activity_type = 'status_change'
        and deal_id is not null
        and metadata ->> 'field' = 'stage'
)

select * from final

{#- Cadences by name, for the outreach page's cadence funnel. A view (security_invoker) over app.cadences: a
    cadence created or renamed shows at once, under the table's row-level security. -#}
{{ config(materialized='view') }}

with cadences as (
    select * from {{ ref('stg_app__cadences') }}
),

final as (
    select
        cadence_id,
        organization_id,
        team_id,
        owner_id,
        cadence_name,
        is_active,
        created_at
    from cadences
)

select * from final

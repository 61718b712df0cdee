{#- Teams, for the dashboards' filters and labels. A view (security_invoker): a team renamed in the app shows at
    once, and app.teams' row-level security decides what a reader sees. -#}
{{ config(materialized='view') }}

with teams as (
    select * from {{ ref('stg_app__teams') }}
),

final as (
    select
        team_id,
        organization_id,
        team_name
    from teams
)

select * from final

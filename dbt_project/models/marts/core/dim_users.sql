{#- People with their team and a display name, for filters and for naming owners in the dashboards. A view
    (security_invoker): a new user or a team change shows at once, under app.users' row-level security. -#}
{{ config(materialized='view') }}

with users as (
    select * from {{ ref('stg_app__users') }}
),

teams as (
    select * from {{ ref('dim_teams') }}
),

final as (
    select
        u.user_id,
        u.organization_id,
        u.team_id,
        t.team_name,
        u.email,
        u.full_name,
        u.role,
        u.is_active,
        coalesce(u.full_name, u.email) as user_name
    from users as u
    left join teams as t on u.team_id = t.team_id
)

select * from final

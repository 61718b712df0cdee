{#- Prospects with their owner, team and account name, for the dashboards' lists and filters. A view
    (security_invoker) over app.prospects, so a new prospect shows at once and its row-level security applies. -#}
{{ config(materialized='view') }}

with prospects as (
    select * from {{ ref('stg_app__prospects') }}
),

accounts as (
    select * from {{ ref('dim_accounts') }}
),

final as (
    select
        p.prospect_id,
        p.organization_id,
        p.team_id,
        p.owner_id,
        p.account_id,
        a.account_name,
        p.email,
        p.title,
        p.seniority,
        p.status,
        p.created_at
    from prospects as p
    left join accounts as a on p.account_id = a.account_id
)

select * from final

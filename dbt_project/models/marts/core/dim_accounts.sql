{#- Accounts with their name and domain, for naming accounts on the dashboards. A view (security_invoker) over
    app.accounts, so a new account shows at once and the table's row-level security applies. -#}
{{ config(materialized='view') }}

with accounts as (
    select * from {{ ref('stg_app__accounts') }}
),

final as (
    select
        account_id,
        organization_id,
        team_id,
        owner_id,
        account_name,
        domain,
        industry,
        employee_count
    from accounts
)

select * from final

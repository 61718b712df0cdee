{#- Every deal with its account, owner and team names, for the pipeline board. A view (security_invoker): the
    board moves deals through the API and shows the move on the next read, and app.deals' row-level security
    decides what a reader sees. -#}
{{ config(materialized='view') }}

with deals as (
    select * from {{ ref('stg_app__deals') }}
),

accounts as (
    select * from {{ ref('dim_accounts') }}
),

users as (
    select * from {{ ref('dim_users') }}
),

teams as (
    select * from {{ ref('dim_teams') }}
),

final as (
    select
        d.deal_id,
        d.organization_id,
        d.team_id,
        t.team_name,
        d.owner_id,
        u.user_name as owner_name,
        d.account_id,
        a.account_name,
        d.deal_name,
        d.stage,
        d.amount,
        d.probability,
        d.forecast_category,
        d.close_date,
        d.is_closed,
        d.is_won,
        d.stage_changed_at,
        d.closed_at,
        d.created_at
    from deals as d
    left join accounts as a on d.account_id = a.account_id
    left join users as u on d.owner_id = u.user_id
    left join teams as t on d.team_id = t.team_id
)

select * from final

{#- One row per logged activity with who did it and a one-line summary, for the deal timeline. A view
    (security_invoker): a stage moved from the board shows in the timeline on the next read, under
    app.activities' row-level security. -#}
{{ config(materialized='view') }}

with activities as (
    select * from {{ ref('stg_app__activities') }}
),

users as (
    select * from {{ ref('dim_users') }}
),

final as (
    select
        a.activity_id,
        a.organization_id,
        a.user_id,
        u.user_name,
        a.prospect_id,
        a.account_id,
        a.deal_id,
        a.activity_type,
        a.occurred_at,
        -- what the timeline shows: the subject, summary or notes logged with it; a stage change as "from → to"
        coalesce(
            a.metadata ->> 'subject',
            a.metadata ->> 'summary',
            a.metadata ->> 'notes',
            case
                when a.activity_type = 'status_change'
                    then concat(a.metadata ->> 'from', ' → ', a.metadata ->> 'to')
            end
        ) as details
    from activities as a
    left join users as u on a.user_id = u.user_id
)

select * from final

{#- Everything the deal-risk rule (macros/deal_risk.sql) looks at, one row per open deal, as the API gathers it
    (serving/deals/service.py health): engagement is any activity but a stage change, on the deal or with one of
    its contacts, up to the end of the as-of day; days are UTC calendar days. -#}
with deals as (
    select * from {{ ref('stg_app__deals') }}
),

activities as (
    select * from {{ ref('stg_app__activities') }}
    where activity_type != 'status_change' and occurred_at < {{ as_of_date() }} + 1
),

deal_contacts as (
    select * from {{ ref('stg_app__deal_contacts') }}
),

intervals as (
    select * from {{ ref('int_deals__stage_intervals') }}
),

contacts as (
    select deal_id, count(*) as contact_count
    from deal_contacts
    group by deal_id
),

-- Shown next to the rule's fixed threshold (dashboards); not part of the score.
stage_medians as (
    select
        organization_id,
        stage,
        percentile_cont(0.5) within group (order by days_in_stage) as median_days_in_stage
    from intervals
    where not is_current
    group by organization_id, stage
),

last_activity as (
    select
        deal_id,
        max(occurred_at) as last_activity_at
    from (
        select
            deal_id,
            occurred_at
        from activities
        where deal_id is not null
        union all
        select
            dc.deal_id,
            a.occurred_at
        from activities as a
        inner join deal_contacts as dc on a.prospect_id = dc.prospect_id
    ) as touches
    group by deal_id
),

final as (
    select
        d.deal_id,
        d.organization_id,
        d.team_id,
        d.owner_id,
        d.account_id,
        d.stage,
        d.amount,
        d.close_date,
        d.created_at,
        d.next_step,
        greatest(0, {{ as_of_date() }} - (coalesce(d.stage_changed_at, d.created_at) at time zone 'UTC')::date)
            as days_in_stage,
        m.median_days_in_stage,
        la.last_activity_at,
        greatest(0, {{ as_of_date() }} - (coalesce(la.last_activity_at, d.created_at) at time zone 'UTC')::date)
            as days_since_last_activity,
        coalesce(ct.contact_count, 0) as contact_count
    from deals as d
    left join stage_medians as m on m.organization_id = d.organization_id and m.stage = d.stage
    left join last_activity as la on la.deal_id = d.deal_id
    left join contacts as ct on ct.deal_id = d.deal_id
    where not d.is_closed
)

select * from final

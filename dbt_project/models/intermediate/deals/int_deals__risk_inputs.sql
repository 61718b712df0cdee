{#- Everything the deal-risk rules look at, one row per open deal. -#}
with deals as (
    select * from {{ ref('stg_app__deals') }}
),

intervals as (
    select * from {{ ref('int_deals__stage_intervals') }}
),

activities as (
    select * from {{ ref('stg_app__activities') }}
),

contacts as (
    select deal_id, count(*) as contact_count
    from {{ ref('stg_app__deal_contacts') }}
    group by deal_id
),

stage_medians as (
    select
        organization_id,
        stage,
        percentile_cont(0.5) within group (order by days_in_stage) as median_days_in_stage
    from intervals
    where not is_current
    group by organization_id, stage
),

current_stage as (
    select deal_id, days_in_stage
    from intervals
    where is_current
),

last_activity as (
    select deal_id, max(occurred_at) as last_activity_at
    from activities
    where deal_id is not null
    group by deal_id
),

changes as (
    select
        deal_id,
        bool_or(
            metadata ->> 'field' = 'close_date' and (metadata ->> 'to') > (metadata ->> 'from')
        ) as close_date_pushed,
        bool_or(
            metadata ->> 'field' = 'amount'
            and occurred_at >= {{ as_of_date() }} - {{ var('amount_change_window_days') }}
        ) as amount_changed_recently
    from activities
    where activity_type = 'status_change' and deal_id is not null
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
        coalesce(c.days_in_stage, 0) as days_in_stage,
        m.median_days_in_stage,
        la.last_activity_at,
        coalesce(ct.contact_count, 0) as contact_count,
        coalesce(ch.close_date_pushed, false) as close_date_pushed,
        coalesce(ch.amount_changed_recently, false) as amount_changed_recently
    from deals as d
    left join current_stage as c on c.deal_id = d.deal_id
    left join stage_medians as m on m.organization_id = d.organization_id and m.stage = d.stage
    left join last_activity as la on la.deal_id = d.deal_id
    left join contacts as ct on ct.deal_id = d.deal_id
    left join changes as ch on ch.deal_id = d.deal_id
    where not d.is_closed
)

select * from final

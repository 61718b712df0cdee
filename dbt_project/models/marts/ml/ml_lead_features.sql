{#- Lead-scoring training/scoring rows: one per prospect per weekly snapshot date. Every feature uses only
    what was known before the snapshot date (events strictly before it; intent as of the day before). The label
    `converted` is a meeting booked or a deal created for the prospect within `conversion_window_days` from
    the snapshot date; `label_complete` says whether that window has fully elapsed. -#}
with snapshots as (
    select ({{ as_of_date() }} - n * {{ var('ml_snapshot_interval_days') }})::date as snapshot_date
    from generate_series(0, {{ var('ml_snapshot_count') }} - 1) as n
),

prospects as (
    select * from {{ ref('stg_app__prospects') }}
),

accounts as (
    select * from {{ ref('stg_app__accounts') }}
),

account_profiles as (
    select * from {{ ref('dim_enriched_account_profiles') }}
),

email as (
    select prospect_id, event, message_key, occurred_at from {{ ref('fct_email_events') }}
    where prospect_id is not null and event in ('open', 'click', 'reply')
),

sessions as (
    select prospect_id, started_at from {{ ref('fct_website_sessions') }} where prospect_id is not null
),

activities as (
    select prospect_id, activity_type, occurred_at from {{ ref('stg_app__activities') }}
    where prospect_id is not null and activity_type <> 'status_change'
),

deal_starts as (
    select dc.prospect_id, d.created_at
    from {{ ref('stg_app__deal_contacts') }} as dc
    inner join {{ ref('stg_app__deals') }} as d on d.deal_id = dc.deal_id
),

intent as (
    select entity_id as prospect_id, score_date, intent_score
    from {{ ref('intent_score_history') }}
    where entity_type = 'prospect'
),

base as (
    select s.snapshot_date, p.*
    from snapshots as s
    inner join prospects as p on p.created_at < s.snapshot_date
),

email_features as (
    select
        b.prospect_id, b.snapshot_date,
        count(distinct e.message_key) filter (where e.event = 'open') as email_opens,
        count(distinct e.message_key) filter (where e.event = 'click') as email_clicks,
        count(distinct e.message_key) filter (where e.event = 'reply') as email_replies,
        max(e.occurred_at) as last_email_at
    from base as b
    inner join email as e on e.prospect_id = b.prospect_id and e.occurred_at < b.snapshot_date
    group by 1, 2
),

web_features as (
    select b.prospect_id, b.snapshot_date, count(*) as web_sessions, max(w.started_at) as last_web_at
    from base as b
    inner join sessions as w on w.prospect_id = b.prospect_id and w.started_at < b.snapshot_date
    group by 1, 2
),

activity_features as (
    select
        b.prospect_id, b.snapshot_date,
        count(*) filter (where a.activity_type in ('meeting_scheduled', 'meeting_completed')) as meetings,
        max(a.occurred_at) as last_activity_at
    from base as b
    inner join activities as a on a.prospect_id = b.prospect_id and a.occurred_at < b.snapshot_date
    group by 1, 2
),

intent_features as (
    select
        b.prospect_id, b.snapshot_date,
        max(i.intent_score) filter (where i.score_date = b.snapshot_date - 1) as intent_score,
        max(i.intent_score) filter (where i.score_date = b.snapshot_date - 8) as intent_score_week_before,
        sum(i.intent_score) filter (
            where i.score_date between b.snapshot_date - 29 and b.snapshot_date - 2
        ) / 28.0 as intent_baseline
    from base as b
    inner join intent as i
        on i.prospect_id = b.prospect_id and i.score_date between b.snapshot_date - 29 and b.snapshot_date - 1
    group by 1, 2
),

labels as (
    select b.prospect_id, b.snapshot_date, true as converted
    from base as b
    where exists (
        select 1 from activities as a
        where a.prospect_id = b.prospect_id
            and a.activity_type in ('meeting_scheduled', 'meeting_completed')
            and a.occurred_at >= b.snapshot_date
            and a.occurred_at < b.snapshot_date + {{ var('conversion_window_days') }}
    ) or exists (
        select 1 from deal_starts as d
        where d.prospect_id = b.prospect_id
            and d.created_at >= b.snapshot_date
            and d.created_at < b.snapshot_date + {{ var('conversion_window_days') }}
    )
),

final as (
    select
        {{ surrogate_key(['b.prospect_id', 'b.snapshot_date']) }} as feature_row_id,
        b.prospect_id,
        b.organization_id,
        b.snapshot_date,
        {{ title_seniority('b.seniority', 'b.title') }} as title_seniority,
        coalesce(b.department, 'unknown') as department,
        coalesce(
            case when ap.last_fetched_at < b.snapshot_date then ap.industry end, a.industry, 'unknown'
        ) as industry,
        {{ employee_band("coalesce(case when ap.last_fetched_at < b.snapshot_date then ap.employee_count end,
                                   a.employee_count)") }} as employee_band,
        {{ revenue_band("coalesce(case when ap.last_fetched_at < b.snapshot_date then ap.annual_revenue end,
                                  a.annual_revenue)") }} as revenue_band,
        coalesce(ef.email_opens, 0)::integer as email_opens,
        coalesce(ef.email_clicks, 0)::integer as email_clicks,
        coalesce(ef.email_replies, 0)::integer as email_replies,
        coalesce(af.meetings, 0)::integer as meetings,
        coalesce(wf.web_sessions, 0)::integer as web_sessions,
        (b.snapshot_date - greatest(ef.last_email_at, wf.last_web_at, af.last_activity_at)::date)::integer
            as days_since_last_engagement,
        coalesce(inf.intent_score, 0)::integer as intent_score,
        {{ intent_tier('coalesce(inf.intent_score, 0)') }} as intent_tier,
        case
            when coalesce(inf.intent_score, 0) - coalesce(inf.intent_score_week_before, 0) >= 5 then 'increasing'
            when coalesce(inf.intent_score, 0) - coalesce(inf.intent_score_week_before, 0) <= -5 then 'decreasing'
            else 'stable'
        end as intent_trend,
        coalesce(inf.intent_score, 0) - coalesce(inf.intent_baseline, 0) >= 20 as intent_spike,
        coalesce(case when ap.last_fetched_at < b.snapshot_date then ap.technographics_count end, 0)::integer
            as technographics_count,
        coalesce(l.converted, false) as converted,
        b.snapshot_date + {{ var('conversion_window_days') }} <= {{ as_of_date() }} as label_complete
    from base as b
    left join accounts as a on a.account_id = b.account_id
    left join account_profiles as ap on ap.account_id = b.account_id
    left join email_features as ef on ef.prospect_id = b.prospect_id and ef.snapshot_date = b.snapshot_date
    left join web_features as wf on wf.prospect_id = b.prospect_id and wf.snapshot_date = b.snapshot_date
    left join activity_features as af on af.prospect_id = b.prospect_id and af.snapshot_date = b.snapshot_date
    left join intent_features as inf on inf.prospect_id = b.prospect_id and inf.snapshot_date = b.snapshot_date
    left join labels as l on l.prospect_id = b.prospect_id and l.snapshot_date = b.snapshot_date
)

select * from final

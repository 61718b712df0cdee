{{ config(materialized='incremental', unique_key='feature_row_id', incremental_strategy='delete+insert',
          on_schema_change='append_new_columns',
          post_hook=["{{ ml_lead_features_prune() }}"]) }}
{#- Lead-scoring training/scoring rows: one per prospect per snapshot date (`ml_snapshot_dates`: weekly dates on
    a fixed grid, and the open one, today). Every feature uses only what was known before the snapshot date
    (events strictly before it; intent as of the day before). The label `converted` is a meeting booked or a deal
    created for the prospect within `conversion_window_days` from the snapshot date; `label_complete` says
    whether that window has fully elapsed.
    Incremental by snapshot date: a closed snapshot's features are fixed once it is built (they only see the
    past), so an incremental build computes the features of new snapshot dates and of the open one only,
    re-labels the closed rows whose label window is still open, and drops the dates that left the grid and
    the rows of deleted prospects (the post-hook). A late event dated before a
    built snapshot, a prospect's changed title or department, or a prospect imported with an older creation date
    reaches the built snapshots at the nightly full rebuild.
    Column names, windows (email and meetings 90 days, web sessions 30 days) and category values follow the
    model's feature spec (`models/lead_scoring/features.py`, LEAD_FEATURES); unknown categories are null. -#}
with snapshots as (
    {{ ml_snapshot_dates() }}
),

-- noqa: disable=LT02
-- (the CTEs inside the if/else stay at CTE level, not indented as sqlfluff wants for jinja blocks)
{% if is_incremental() %}
-- dates not built yet, and the open snapshot (today's: recomputed every build, so a late event reaches the
-- scores at once)
new_snapshots as (
    select s.snapshot_date
    from snapshots as s
    where
        s.snapshot_date = {{ as_of_date() }}
        or not exists (select 1 from {{ this }} as built where built.snapshot_date = s.snapshot_date)
),

-- built closed rows whose conversion window was still open: only their label can change
relabel as (
    select built.*
    from {{ this }} as built
    inner join snapshots as s on s.snapshot_date = built.snapshot_date
    where not built.label_complete and built.snapshot_date < {{ as_of_date() }}
),
{% else %}
new_snapshots as (
    select * from snapshots
),

relabel as (
    select null::uuid as prospect_id, null::date as snapshot_date
    where false
),
{% endif %}
-- noqa: enable=LT02

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
    where prospect_id is not null and event in ('processed', 'delivered', 'open', 'click', 'reply')
),

sessions as (
    select prospect_id, started_at from {{ ref('fct_website_sessions') }} where prospect_id is not null
),

activities as (
    select prospect_id, activity_type, occurred_at from {{ ref('stg_app__activities') }}
    -- notes (including the scoring pipeline's own threshold notes) and status changes are not engagement
    where prospect_id is not null and activity_type not in ('status_change', 'note_added')
),

deal_starts as (
    select dc.prospect_id, d.created_at
    from {{ ref('stg_app__deal_contacts') }} as dc
    inner join {{ ref('stg_app__deals') }} as d on d.deal_id = dc.deal_id
),

-- only the days the snapshots computed now read (an incremental build: the open one's 29, not the history's 90)
intent as (
    select entity_id as prospect_id, score_date, intent_score
    from {{ ref('intent_score_history') }}
    where entity_type = 'prospect' and score_date >= (select min(s.snapshot_date) - 29 from new_snapshots as s)
),

base as (
    select s.snapshot_date, p.*
    from new_snapshots as s
    inner join prospects as p on p.created_at < s.snapshot_date
),

email_features as (
    select
        b.prospect_id, b.snapshot_date,
        count(distinct e.message_key) filter (
            where e.event in ('processed', 'delivered') and e.occurred_at >= b.snapshot_date - 90
        ) as emails_sent,
        count(distinct e.message_key) filter (
            where e.event = 'open' and e.occurred_at >= b.snapshot_date - 90
        ) as emails_opened,
        count(distinct e.message_key) filter (
            where e.event = 'click' and e.occurred_at >= b.snapshot_date - 90
        ) as emails_clicked,
        count(distinct e.message_key) filter (
            where e.event = 'reply' and e.occurred_at >= b.snapshot_date - 90
        ) as emails_replied,
        max(e.occurred_at) filter (where e.event in ('open', 'click', 'reply')) as last_email_at
    from base as b
    inner join email as e on e.prospect_id = b.prospect_id and e.occurred_at < b.snapshot_date
    group by 1, 2
),

web_features as (
    select
        b.prospect_id, b.snapshot_date,
        count(*) filter (where w.started_at >= b.snapshot_date - 30) as web_sessions,
        max(w.started_at) as last_web_at
    from base as b
    inner join sessions as w on w.prospect_id = b.prospect_id and w.started_at < b.snapshot_date
    group by 1, 2
),

activity_features as (
    select
        b.prospect_id, b.snapshot_date,
        count(*) filter (
            where a.activity_type in ('meeting_scheduled', 'meeting_completed')
            and a.occurred_at >= b.snapshot_date - 90
        ) as meetings_held,
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

-- meetings and deal starts: what converts a prospect
conversions as (
    select prospect_id, occurred_at as converted_at from activities
    where activity_type in ('meeting_scheduled', 'meeting_completed')
    union all
    select prospect_id, created_at from deal_starts
),

-- A join, not a correlated `exists` per row: the activities CTE has no index, so each of the snapshots ×
-- prospects rows scanned every activity (quadratic: 505 s of a 10,000-prospect build).
label_rows as (
    select prospect_id, snapshot_date from base
    union all
    select prospect_id, snapshot_date from relabel
),

labels as (
    select r.prospect_id, r.snapshot_date, true as converted
    from label_rows as r
    inner join conversions as c
        on c.prospect_id = r.prospect_id
        and c.converted_at >= r.snapshot_date
        and c.converted_at < r.snapshot_date + {{ var('conversion_window_days') }}
    group by 1, 2
),

final as (
    select
        {{ surrogate_key(['b.prospect_id', 'b.snapshot_date']) }} as feature_row_id,
        b.prospect_id,
        b.organization_id,
        b.snapshot_date,
        nullif({{ title_seniority('b.seniority', 'b.title') }}, 'unknown') as title_seniority,
        case
            when nullif(trim(b.department), '') is null then null
            when lower(trim(b.department)) in ('sales', 'marketing', 'operations', 'engineering', 'finance')
                then lower(trim(b.department))
            else 'other'
        end as department,
        lower(nullif(trim(coalesce(
            case when ap.last_fetched_at < b.snapshot_date then ap.industry end, a.industry
        )), '')) as industry,
        case
            when emp.employees is null then null
            when emp.employees <= 10 then '1-10'
            when emp.employees <= 50 then '11-50'
            when emp.employees <= 200 then '51-200'
            when emp.employees <= 1000 then '201-1000'
            when emp.employees <= 5000 then '1001-5000'
            else '5001+'
        end as employee_band,
        case
            when emp.revenue is null then null
            when emp.revenue < 1000000 then '<1M'
            when emp.revenue < 10000000 then '1M-10M'
            when emp.revenue < 50000000 then '10M-50M'
            when emp.revenue < 250000000 then '50M-250M'
            when emp.revenue < 1000000000 then '250M-1B'
            else '1B+'
        end as revenue_band,
        coalesce(ef.emails_sent, 0)::integer as emails_sent,
        coalesce(ef.emails_replied, 0)::integer as emails_replied,
        coalesce(ef.emails_opened, 0)::integer as emails_opened,
        coalesce(ef.emails_clicked, 0)::integer as emails_clicked,
        coalesce(af.meetings_held, 0)::integer as meetings_held,
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
        case when ap.last_fetched_at < b.snapshot_date then ap.technographics_count end::integer
            as technology_count,
        coalesce(l.converted, false) as converted,
        b.snapshot_date + {{ var('conversion_window_days') }} <= {{ as_of_date() }} as label_complete
    from base as b
    left join accounts as a on a.account_id = b.account_id
    left join account_profiles as ap on ap.account_id = b.account_id
    -- a lateral, not a CTE: which size counts depends on each row's snapshot date
    -- noqa: disable=ST05,LT02
    cross join lateral (
        select
            coalesce(case when ap.last_fetched_at < b.snapshot_date then ap.employee_count end, a.employee_count)
                as employees,
            coalesce(case when ap.last_fetched_at < b.snapshot_date then ap.annual_revenue end, a.annual_revenue)
                as revenue
    ) as emp
    -- noqa: enable=ST05,LT02
    left join email_features as ef on ef.prospect_id = b.prospect_id and ef.snapshot_date = b.snapshot_date
    left join web_features as wf on wf.prospect_id = b.prospect_id and wf.snapshot_date = b.snapshot_date
    left join activity_features as af on af.prospect_id = b.prospect_id and af.snapshot_date = b.snapshot_date
    left join intent_features as inf on inf.prospect_id = b.prospect_id and inf.snapshot_date = b.snapshot_date
    left join labels as l on l.prospect_id = b.prospect_id and l.snapshot_date = b.snapshot_date
)

-- noqa: disable=LT02
{% if is_incremental() %},

relabeled as (
    select
        r.feature_row_id, r.prospect_id, r.organization_id, r.snapshot_date, r.title_seniority, r.department,
        r.industry, r.employee_band, r.revenue_band, r.emails_sent, r.emails_replied, r.emails_opened,
        r.emails_clicked, r.meetings_held, r.web_sessions, r.days_since_last_engagement, r.intent_score,
        r.intent_tier, r.intent_trend, r.intent_spike, r.technology_count,
        coalesce(l.converted, false) as converted,
        r.snapshot_date + {{ var('conversion_window_days') }} <= {{ as_of_date() }} as label_complete
    from relabel as r
    left join labels as l on l.prospect_id = r.prospect_id and l.snapshot_date = r.snapshot_date
    where coalesce(l.converted, false) <> r.converted
        or r.snapshot_date + {{ var('conversion_window_days') }} <= {{ as_of_date() }}
)

select * from final
union all
select * from relabeled
{% else %}

select * from final
{% endif %}
-- noqa: enable=LT02

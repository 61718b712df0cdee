{#- Account health 0–100: 40% inverse average open-deal risk, 30% intent, 30% engagement recency
    (activity or web visit within 14 days 100, 30 days 60, 90 days 30, else 0). -#}
with accounts as (
    select * from {{ ref('stg_app__accounts') }}
),

risk as (
    select account_id, count(*) as open_deals, avg(risk_score) as avg_deal_risk, sum(amount) as open_pipeline_amount
    from {{ ref('fct_deal_health') }}
    where account_id is not null
    group by account_id
),

intent as (
    select * from {{ ref('fct_account_intent') }}
),

touches as (
    select account_id, max(occurred_at) as last_touch_at
    from (
        select account_id, occurred_at from {{ ref('stg_app__activities') }} where account_id is not null
        union all
        select account_id, ended_at from {{ ref('fct_website_sessions') }} where account_id is not null
    ) as t
    group by account_id
),

scored as (
    select
        a.account_id,
        a.organization_id,
        coalesce(r.open_deals, 0) as open_deals,
        coalesce(r.open_pipeline_amount, 0) as open_pipeline_amount,
        round(r.avg_deal_risk, 1) as avg_deal_risk,
        coalesce(i.intent_score, 0) as intent_score,
        t.last_touch_at,
        case
            when t.last_touch_at >= {{ as_of_date() }} - 14 then 100
            when t.last_touch_at >= {{ as_of_date() }} - 30 then 60
            when t.last_touch_at >= {{ as_of_date() }} - 90 then 30
            else 0
        end as engagement_score
    from accounts as a
    left join risk as r on r.account_id = a.account_id
    left join intent as i on i.account_id = a.account_id
    left join touches as t on t.account_id = a.account_id
),

final as (
    select
        *,
        round(0.4 * (100 - coalesce(avg_deal_risk, 0)) + 0.3 * intent_score + 0.3 * engagement_score)::integer
            as health_score
    from scored
)

select
    *,
    case when health_score >= 70 then 'healthy' when health_score >= 40 then 'neutral' else 'at_risk' end
        as health_tier
from final

{{ config(materialized='table') }}
{#- A table, not a view: the daily points, the entity scores and the tests all read it. -#}
{#- Each signal attributed to the prospects and accounts it is about.
    Prospect: its own signals (by email) at full weight, plus account-level signals (no email) of its
    account at half weight. Account: every signal of its domain or of one of its prospects. -#}
with signals as (
    select * from {{ ref('stg_raw__intent_signals') }}
),

prospects as (
    select * from {{ ref('stg_app__prospects') }}
),

accounts as (
    select * from {{ ref('stg_app__accounts') }}
),

weights as (
    select * from {{ ref('intent_signal_weights') }}
),

prospect_own as (
    select s.signal_id, s.organization_id, 'prospect' as entity_type, p.prospect_id as entity_id, 1.0 as factor
    from signals as s
    inner join prospects as p on p.organization_id = s.organization_id and p.email = s.prospect_email
),

prospect_from_account as (
    select s.signal_id, s.organization_id, 'prospect' as entity_type, p.prospect_id as entity_id, 0.5 as factor
    from signals as s
    inner join accounts as a on a.organization_id = s.organization_id and a.domain = s.account_domain
    inner join prospects as p on p.account_id = a.account_id
    where s.prospect_email is null
),

account_signals as (
    select s.signal_id, s.organization_id, 'account' as entity_type, a.account_id as entity_id, 1.0 as factor
    from signals as s
    inner join accounts as a on a.organization_id = s.organization_id and a.domain = s.account_domain
    union
    select s.signal_id, s.organization_id, 'account' as entity_type, p.account_id as entity_id, 1.0 as factor
    from signals as s
    inner join prospects as p on p.organization_id = s.organization_id and p.email = s.prospect_email
    where p.account_id is not null
),

attributed as (
    select * from prospect_own
    union all
    select * from prospect_from_account
    union all
    select * from account_signals
),

final as (
    select
        a.organization_id,
        a.entity_type,
        a.entity_id,
        s.signal_id,
        s.signal_type,
        s.occurred_on,
        s.expires_at,
        w.half_life_days,
        w.weight * s.strength * a.factor as base_points
    from attributed as a
    inner join signals as s on s.signal_id = a.signal_id
    inner join weights as w on w.signal_type = s.signal_type
)

select * from final

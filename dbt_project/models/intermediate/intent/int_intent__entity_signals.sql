{{ config(materialized='incremental', unique_key=['signal_source', 'signal_id'],
          incremental_strategy='delete+insert', on_schema_change='append_new_columns',
          pre_hook=["{{ reset_without_column('signal_source') }}"],
          post_hook=["drop index if exists {{ this.schema }}.\"ix_int_intent__entity_signals__entity\"",
                     "create unique index if not exists \"ix_int_intent__entity_signals__key\"
                          on {{ this }} (entity_type, entity_id, signal_source, signal_id)",
                     "create index if not exists \"ix_int_intent__entity_signals__signal\"
                          on {{ this }} (signal_source, signal_id)"]) }}
{#- A table, not a view: the daily points, the entity scores and the tests all read it. Its key (entity, signal) is a
    unique index, so every insert checks it (the key's data test runs nightly). -#}
{#- Each signal attributed to the prospects and accounts it is about.
    Third-party signals (`signal_source` intent_signals): a prospect gets its own signals (by email) at full
    weight, plus account-level signals (no email) of its account at half weight; an account gets every signal of
    its domain or of one of its prospects. First-party signals (`signal_source` website_events): a page view of
    a high-intent page (seed `high_intent_pages`: path pattern and strength) by a known prospect is a
    `website_visit` of that strength for the prospect and its account, at full weight.
    Incremental by signal: a build attributes the signals loaded since the last one (per source). A prospect or
    account created later, or an identify call that attributes a visitor's earlier page views, reaches the
    older signals at the nightly full rebuild. -#}
with signals as (
    select * from {{ ref('stg_raw__intent_signals') }}
    {% if is_incremental() %}
        where loaded_at > {{ incremental_watermark('loaded_at', "prev.signal_source = 'intent_signals'") }}
    {% endif %}
),

high_intent_pages as (
    select * from {{ ref('high_intent_pages') }}
),

-- each high-intent page view once, with the strength of its strongest matching pattern
page_views as (
    select distinct on (e.website_event_id)
        e.website_event_id as signal_id,
        e.organization_id,
        e.prospect_id,
        e.account_id,
        e.occurred_at,
        e.loaded_at,
        h.strength
    from {{ ref('int_website__events_attributed') }} as e
    inner join high_intent_pages as h on e.path ~* h.path_pattern
    where
        e.event_type = 'page'
        and e.is_high_intent_page
        and e.prospect_id is not null
        {% if is_incremental() %}
            and e.loaded_at > {{ incremental_watermark('loaded_at', "prev.signal_source = 'website_events'") }}
        {% endif %}
    order by e.website_event_id asc, h.strength desc
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

third_party as (
    select
        a.organization_id,
        a.entity_type,
        a.entity_id,
        'intent_signals' as signal_source,
        s.signal_id,
        s.signal_type,
        s.occurred_on,
        s.expires_at,
        w.half_life_days,
        w.weight * s.strength * a.factor as base_points,
        s.loaded_at
    from attributed as a
    inner join signals as s on s.signal_id = a.signal_id
    inner join weights as w on w.signal_type = s.signal_type
),

first_party as (
    select
        v.organization_id,
        e.entity_type,
        e.entity_id,
        'website_events' as signal_source,
        v.signal_id,
        w.signal_type,
        v.occurred_at::date as occurred_on,
        null::timestamptz as expires_at,
        w.half_life_days,
        w.weight * v.strength as base_points,
        v.loaded_at
    from page_views as v
    cross join lateral (values ('prospect', v.prospect_id), ('account', v.account_id)) as e (entity_type, entity_id)
    inner join weights as w on w.signal_type = 'website_visit'
    where e.entity_id is not null
),

final as (
    select * from third_party
    union all
    select * from first_party
)

select * from final

{#- One row per stage a deal has been in: entered at creation or at a transition, left at the next one. -#}
with deals as (
    select * from {{ ref('stg_app__deals') }}
),

transitions as (
    select * from {{ ref('int_deals__stage_transitions') }}
),

first_transition as (
    select distinct on (deal_id) deal_id, from_stage
    from transitions
    order by deal_id, changed_at, transition_id
),

entries as (
    select d.deal_id, d.organization_id, coalesce(f.from_stage, d.stage) as stage, d.created_at as entered_at
    from deals as d
    left join first_transition as f on f.deal_id = d.deal_id
    union all
    select t.deal_id, t.organization_id, t.to_stage as stage, t.changed_at as entered_at
    from transitions as t
),

final as (
    select
        {{ surrogate_key(['deal_id', 'entered_at', 'stage']) }} as stage_interval_id,
        deal_id,
        organization_id,
        stage,
        entered_at,
        lead(entered_at) over (partition by deal_id order by entered_at) as exited_at,
        lead(stage) over (partition by deal_id order by entered_at) as next_stage
    from entries
)

select
    *,
    exited_at is null as is_current,
    extract(epoch from coalesce(exited_at, {{ as_of_date() }}::timestamptz) - entered_at) / 86400.0 as days_in_stage
from final

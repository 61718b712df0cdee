{#- Deal risk 0–100 with reasons, for open deals: the API's rule (serving/deals/health.py, mirrored in
    macros/deal_risk.sql), so a deal's risk is the same before and after the pipeline runs. Each rule that fires
    adds its points (capped at 100): stalled_in_stage (more days in the stage than the stage allows),
    no_recent_activity (no engagement for more than the inactivity days, counted from creation when none),
    close_date_passed, single_threaded (fewer contacts than the minimum), no_next_step. -#}
{%- set rule = deal_risk_rule() %}
{%- set points = rule['points'] %}
with inputs as (
    select * from {{ ref('int_deals__risk_inputs') }}
),

flagged as (
    select
        *,
        {{ deal_stage_threshold_days('stage') }} as stage_threshold_days,
        coalesce(days_in_stage > {{ deal_stage_threshold_days('stage') }}, false) as is_stalled,
        days_since_last_activity > {{ rule['inactivity_days'] }} as is_inactive,
        coalesce(close_date < {{ as_of_date() }}, false) as is_past_close,
        contact_count < {{ rule['min_contacts'] }} as is_single_threaded,
        coalesce(next_step, '') !~ '\S' as has_no_next_step
    from inputs
),

scored as (
    select
        *,
        least(
            100,
            case when is_stalled then {{ points['stalled_in_stage'] }} else 0 end
            + case when is_inactive then {{ points['no_recent_activity'] }} else 0 end
            + case when is_past_close then {{ points['close_date_passed'] }} else 0 end
            + case when is_single_threaded then {{ points['single_threaded'] }} else 0 end
            + case when has_no_next_step then {{ points['no_next_step'] }} else 0 end
        ) as risk_score,
        -- The API's order, so the stored reasons read the same as the live ones.
        array_remove(array[
            case when is_stalled then 'stalled_in_stage' end,
            case when is_inactive then 'no_recent_activity' end,
            case when is_past_close then 'close_date_passed' end,
            case when is_single_threaded then 'single_threaded' end,
            case when has_no_next_step then 'no_next_step' end
        ], null) as risk_reasons
    from flagged
),

final as (
    select
        deal_id,
        organization_id,
        team_id,
        owner_id,
        account_id,
        stage,
        amount,
        close_date,
        days_in_stage::numeric as days_in_stage,
        stage_threshold_days::integer as stage_threshold_days,
        round(median_days_in_stage::numeric, 1) as median_days_in_stage,
        last_activity_at,
        days_since_last_activity::integer as days_since_last_activity,
        contact_count::integer as contact_count,
        risk_score::integer as risk_score,
        case
            when risk_score >= {{ rule['critical_from'] }} then 'high'
            when risk_score >= {{ rule['at_risk_from'] }} then 'medium'
            else 'low'
        end as risk_level,
        risk_reasons::text[] as risk_reasons,
        array_to_string(risk_reasons, ', ') as risk_reason_list,
        {{ as_of_date() }} as as_of_date
    from scored
)

select * from final

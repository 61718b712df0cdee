{#- Deal risk 0–100 with reasons, for open deals. Rules (points, capped at 100):
    stalled_in_stage 25 (days in the current stage above the stage's median, default 21 days when no deal has
    left that stage yet), no_recent_activity 25 (no activity in `stale_activity_days`), close_date_passed 20
    (close date before today) or close_date_pushed 20 (moved later), single_threaded 15 (≤ 1 contact),
    amount_changed 15 (in the last `amount_change_window_days`). -#}
with inputs as (
    select * from {{ ref('int_deals__risk_inputs') }}
),

flagged as (
    select
        *,
        days_in_stage > coalesce(median_days_in_stage, 21) as is_stalled,
        last_activity_at is null
            or last_activity_at < {{ as_of_date() }} - {{ var('stale_activity_days') }} as is_inactive,
        close_date < {{ as_of_date() }} as is_past_close,
        contact_count <= 1 as is_single_threaded
    from inputs
),

scored as (
    select
        *,
        least(100,
            case when is_stalled then 25 else 0 end
            + case when is_inactive then 25 else 0 end
            + case when is_past_close or close_date_pushed then 20 else 0 end
            + case when is_single_threaded then 15 else 0 end
            + case when amount_changed_recently then 15 else 0 end
        ) as risk_score,
        array_remove(array[
            case when is_stalled then 'stalled_in_stage' end,
            case when is_inactive then 'no_recent_activity' end,
            case when is_past_close then 'close_date_passed'
                 when close_date_pushed then 'close_date_pushed' end,
            case when is_single_threaded then 'single_threaded' end,
            case when amount_changed_recently then 'amount_changed' end
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
        round(days_in_stage::numeric, 1) as days_in_stage,
        round(median_days_in_stage::numeric, 1) as median_days_in_stage,
        last_activity_at,
        contact_count::integer as contact_count,
        risk_score::integer as risk_score,
        case when risk_score >= 60 then 'high' when risk_score >= 30 then 'medium' else 'low' end as risk_level,
        risk_reasons::text[] as risk_reasons,
        array_to_string(risk_reasons, ', ') as risk_reason_list,
        {{ as_of_date() }} as as_of_date
    from scored
)

select * from final

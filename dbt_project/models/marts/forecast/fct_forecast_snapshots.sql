{{ config(materialized='incremental', unique_key='forecast_snapshot_id', incremental_strategy='delete+insert') }}
{#- The forecast as it stood on each run date (one snapshot per as-of date; a re-run the same day replaces it),
    so accuracy can be measured once the period closes. -#}
with forecast as (
    select * from {{ ref('fct_forecast') }}
),

final as (
    select
        {{ surrogate_key(['as_of_date', 'forecast_id']) }} as forecast_snapshot_id,
        as_of_date as snapshot_date,
        forecast_id,
        organization_id,
        dimension,
        dimension_id,
        period_type,
        period_start,
        period_end,
        forecast_category,
        deal_count,
        amount,
        weighted_amount
    from forecast
)

select * from final

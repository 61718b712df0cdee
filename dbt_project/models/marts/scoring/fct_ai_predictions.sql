{#- The prediction log with each prediction's prospect e-mail, for the lead-scoring page's explanation lookup. A
    view (security_invoker) over app.ai_predictions, which the scoring API writes in real time: a prediction shows
    on the next read, under the table's row-level security. -#}
{{ config(materialized='view') }}

with predictions as (
    select * from {{ ref('stg_app__ai_predictions') }}
),

prospects as (
    select * from {{ ref('dim_prospects') }}
),

final as (
    select
        pr.prediction_id,
        pr.organization_id,
        pr.prospect_id,
        p.email as prospect_email,
        pr.prediction_type,
        pr.model_version,
        pr.prediction_source,
        pr.score,
        pr.ml_score,
        pr.tier,
        pr.top_factors,
        pr.created_at
    from predictions as pr
    -- same organization on both sides: a prediction never borrows another tenant's prospect
    left join prospects as p on pr.prospect_id = p.prospect_id and pr.organization_id = p.organization_id
)

select * from final

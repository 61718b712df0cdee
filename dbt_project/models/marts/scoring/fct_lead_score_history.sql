{#- One lead score per prospect per day, for the lead-scoring page's score bands and drift. A view
    (security_invoker) over app.lead_score_history, which the scoring asset and the API write: a scoring run
    shows on the next read, under the table's row-level security. -#}
{{ config(materialized='view') }}

with scores as (
    select * from {{ ref('stg_app__lead_score_history') }}
),

final as (
    select
        lead_score_id,
        prospect_id,
        organization_id,
        score_date,
        score,
        ml_score,
        tier,
        model_version
    from scores
)

select * from final

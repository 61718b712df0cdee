{#- The model registry, one row per registered version with its card, for the lead-scoring page. A view
    (security_invoker) over app.ml_models: a version promoted through the API is the champion on the next read,
    under the table's row-level security. -#}
{{ config(materialized='view') }}

with models as (
    select * from {{ ref('stg_app__ml_models') }}
),

final as (
    select
        model_id,
        organization_id,
        model_name,
        version,
        version_number,
        family,
        status,
        is_champion,
        metrics,
        model_card,
        evaluation,
        score_distribution,
        data_window,
        champion_history,
        trained_at,
        registered_at,
        promoted_at
    from models
)

select * from final

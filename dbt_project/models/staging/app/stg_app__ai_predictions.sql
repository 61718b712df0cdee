with source as (
    select * from {{ source('app', 'ai_predictions') }}
),

final as (
    select
        id as prediction_id,
        organization_id,
        prospect_id,
        prediction_type,
        model_version,
        source as prediction_source,
        score,
        ml_score,
        tier,
        top_factors,
        created_at
    from source
)

select * from final

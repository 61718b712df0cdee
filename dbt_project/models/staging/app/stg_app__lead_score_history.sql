with source as (
    select * from {{ source('app', 'lead_score_history') }}
),

final as (
    select
        {{ surrogate_key(['prospect_id', 'score_date']) }} as lead_score_id,
        prospect_id,
        organization_id,
        score_date,
        score,
        ml_score,
        tier,
        model_version
    from source
)

select * from final

with source as (
    select * from {{ source('app', 'ml_models') }}
),

final as (
    select
        id as model_id,
        organization_id,
        name as model_name,
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
    from source
)

select * from final

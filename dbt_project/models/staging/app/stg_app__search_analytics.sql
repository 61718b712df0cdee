with source as (
    select * from {{ source('app', 'search_analytics') }}
),

final as (
    select
        id as search_id,
        organization_id,
        user_id,
        api_key_id,
        query as query_text,
        normalized_query,
        -- jsonb rather than text[]: dbt unit tests cannot cast a fixture to an array type
        to_jsonb(types) as searched_types,
        filters,
        understood,
        result_count,
        latency_ms,
        result_count = 0 as is_zero_result,
        created_at as searched_at,
        -- the UTC day, whatever the session's time zone
        (created_at at time zone 'UTC')::date as search_date
    from source
)

select * from final

{#- Website events with the prospect they belong to: direct (email/userId) or through the identity map. -#}
with events as (
    select * from {{ ref('fct_website_events') }}
),

identity as (
    select * from {{ ref('int_website__identity_map') }}
),

prospects as (
    select * from {{ ref('stg_app__prospects') }}
),

final as (
    select
        e.*,
        coalesce(direct.prospect_id, i.prospect_id) as prospect_id,
        p.account_id
    from events as e
    left join prospects as direct
        on direct.organization_id = e.organization_id
        and (direct.email = e.email or direct.email = lower(e.user_id) or direct.prospect_id::text = e.user_id)
    left join identity as i on i.organization_id = e.organization_id and i.anonymous_id = e.anonymous_id
    left join prospects as p on p.prospect_id = coalesce(direct.prospect_id, i.prospect_id)
)

select * from final

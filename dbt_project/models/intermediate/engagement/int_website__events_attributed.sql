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

-- Three equality joins rather than one join on "email or userId or id": an OR condition cannot be hashed and
-- compared every event with every prospect of its organization (billions of comparisons at a million events).
final as (
    select
        e.*,
        coalesce(by_email.prospect_id, by_user_email.prospect_id, by_user_id.prospect_id, i.prospect_id)
            as prospect_id,
        p.account_id
    from events as e
    left join prospects as by_email
        on by_email.organization_id = e.organization_id and by_email.email = e.email
    left join prospects as by_user_email
        on by_user_email.organization_id = e.organization_id and by_user_email.email = lower(e.user_id)
    left join prospects as by_user_id
        on by_user_id.organization_id = e.organization_id and by_user_id.prospect_id::text = e.user_id
    left join identity as i on i.organization_id = e.organization_id and i.anonymous_id = e.anonymous_id
    left join prospects as p
        on p.prospect_id = coalesce(
            by_email.prospect_id, by_user_email.prospect_id, by_user_id.prospect_id, i.prospect_id
        )
)

select * from final

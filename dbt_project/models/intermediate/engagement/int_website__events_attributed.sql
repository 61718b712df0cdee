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
-- The organization is compared as a filter (`is not distinct from`: no join key; a prospect's organization is never
-- null, so it is `=` here), never as a join key: one organization in a one-tenant install, the planner could
-- merge-join on it alone and test every pair of its rows (108M pairs, 19 s, at 5k prospects).
final as (
    select
        e.*,
        coalesce(by_email.prospect_id, by_user_email.prospect_id, by_user_id.prospect_id, i.prospect_id)
            as prospect_id,
        p.account_id
    from events as e
    left join prospects as by_email
        on by_email.email = e.email
        and by_email.organization_id is not distinct from e.organization_id
    left join prospects as by_user_email
        on by_user_email.email = lower(e.user_id)
        and by_user_email.organization_id is not distinct from e.organization_id
    left join prospects as by_user_id
        on by_user_id.prospect_id::text = e.user_id
        and by_user_id.organization_id is not distinct from e.organization_id
    left join identity as i
        on i.anonymous_id = e.anonymous_id
        and i.organization_id is not distinct from e.organization_id
    left join prospects as p
        on p.prospect_id = coalesce(
            by_email.prospect_id, by_user_email.prospect_id, by_user_id.prospect_id, i.prospect_id
        )
)

select * from final

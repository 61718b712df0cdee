{#- Anonymous visitor → prospect, learned from `identify` calls (and any call carrying an email or a userId
    that is a prospect's id or email). The latest identification wins; at equal times the way of naming the
    prospect decides as in int_website__events_attributed (email, then userId as email, then userId as id), then
    the lowest prospect id, so a tie never depends on the plan. Applied retroactively: sessions from before the
    identify call are attributed too. -#}
with events as (
    select * from {{ ref('stg_raw__website_events') }}
),

prospects as (
    select * from {{ ref('stg_app__prospects') }}
),

-- one equality join per way of naming the prospect (an OR join cannot be hashed)
-- The organization is compared as a filter (`is not distinct from`: no join key; a prospect's organization is never
-- null, so it is `=` here), never as a join key: one organization in a one-tenant install, the planner could
-- merge-join on it alone and test every pair of its rows (108M pairs, 19 s, at 5k prospects).
identified as (
    select e.organization_id, e.anonymous_id, p.prospect_id, e.occurred_at, 1 as match_rank
    from events as e
    inner join prospects as p
        on p.email = e.email
        and p.organization_id is not distinct from e.organization_id
    where e.anonymous_id is not null
    union all
    select e.organization_id, e.anonymous_id, p.prospect_id, e.occurred_at, 2 as match_rank
    from events as e
    inner join prospects as p
        on p.email = lower(e.user_id)
        and p.organization_id is not distinct from e.organization_id
    where e.anonymous_id is not null
    union all
    select e.organization_id, e.anonymous_id, p.prospect_id, e.occurred_at, 3 as match_rank
    from events as e
    inner join prospects as p
        on p.prospect_id::text = e.user_id
        and p.organization_id is not distinct from e.organization_id
    where e.anonymous_id is not null
),

final as (
    select distinct on (organization_id, anonymous_id)
        organization_id, anonymous_id, prospect_id, occurred_at as identified_at
    from identified
    order by organization_id asc, anonymous_id asc, occurred_at desc, match_rank asc, prospect_id asc
)

select * from final

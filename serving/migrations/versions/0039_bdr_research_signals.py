"""The BDR agent's research reads a prospect's own intent signals and website visits (issue 15 §2).

The API role may only append to `raw` (migration 0005); this definer function answers for one prospect of the
caller's own organization (`app.current_org_id()`), at most 20 rows of the last days: intent signals naming the
prospect's address or its account's domain, and the pages the prospect's identified visits viewed. The indexes let
it read just those rows.

Revision ID: 0039
Revises: 0038
"""
from collections.abc import Sequence

from alembic import op

from serving.core.config import APP_ROLE

revision: str = "0039"
down_revision: str | None = "0038"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UP = f"""
create index if not exists ix_intent_signals_org_email on raw.intent_signals (organization_id, lower(prospect_email))
  where prospect_email is not null;
create index if not exists ix_intent_signals_org_domain on raw.intent_signals (organization_id, lower(account_domain))
  where account_domain is not null;
create index if not exists ix_website_events_org_email on raw.website_events (organization_id, lower(email))
  where email is not null;

create function app.prospect_recent_signals(p_prospect_id uuid, p_days int)
returns table (kind text, detail text, occurred_at timestamptz, source text)
language sql stable security definer set search_path = app, pg_temp as $$
  with p as (
    select pr.organization_id, lower(pr.email) as email, lower(a.domain) as domain
    from app.prospects pr left join app.accounts a on a.id = pr.account_id
    where pr.id = p_prospect_id and pr.organization_id = app.current_org_id()
  ), found as (
    (select 'intent.' || s.signal_type, coalesce(s.topic, s.signal_type)
            || coalesce(' (' || s.provider || ')', ''), s.occurred_at, 'intent_signals#' || s.id
     from raw.intent_signals s, p
     where s.organization_id = p.organization_id and lower(s.prospect_email) = p.email
       and s.occurred_at >= now() - make_interval(days => p_days)
     order by s.occurred_at desc limit 10)
    union all
    (select 'intent.' || s.signal_type, coalesce(s.topic, s.signal_type) || ' at ' || s.account_domain,
            s.occurred_at, 'intent_signals#' || s.id
     from raw.intent_signals s, p
     where p.domain is not null and s.organization_id = p.organization_id and lower(s.account_domain) = p.domain
       and s.occurred_at >= now() - make_interval(days => p_days)
     order by s.occurred_at desc limit 10)
    union all
    (select 'website.visit', coalesce(w.path, w.url, '') || coalesce(' — ' || w.title, ''), w.occurred_at,
            'website_events#' || w.id
     from raw.website_events w, p
     where w.organization_id = p.organization_id and lower(w.email) = p.email and w.type = 'page'
       and w.occurred_at >= now() - make_interval(days => p_days)
     order by w.occurred_at desc limit 10)
  )
  select * from found order by occurred_at desc limit 20
$$;
revoke all on function app.prospect_recent_signals(uuid, int) from public;
grant execute on function app.prospect_recent_signals(uuid, int) to {APP_ROLE};
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute("drop function app.prospect_recent_signals(uuid, int)")
    for name in ("ix_website_events_org_email", "ix_intent_signals_org_domain", "ix_intent_signals_org_email"):
        op.execute(f"drop index if exists raw.{name}")

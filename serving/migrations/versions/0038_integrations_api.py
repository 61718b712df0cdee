"""Integrations' API (issue 17 §3): the two lookups that cross tenants and return only ids — a pending OAuth
install by the hash of its state (the provider's redirect carries no session of ours), and the integrations whose
scheduled sync is due (the worker's minute sweep).

Revision ID: 0038
Revises: 0037
"""
from collections.abc import Sequence

from alembic import op

from serving.core.config import APP_ROLE

revision: str = "0038"
down_revision: str | None = "0037"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = f"""
create function app.integration_oauth_pending(p_state_hash text)
returns table (organization_id uuid, integration_id uuid)
language sql stable security definer set search_path = app, pg_temp as $$
  select organization_id, id from app.team_integrations
  where config -> 'oauth' ->> 'stateHash' = p_state_hash
$$;
revoke all on function app.integration_oauth_pending(text) from public;
grant execute on function app.integration_oauth_pending(text) to {APP_ROLE};

create function app.integrations_due_sync(p_now timestamptz)
returns table (organization_id uuid, integration_id uuid)
language sql stable security definer set search_path = app, pg_temp as $$
  select organization_id, id from app.team_integrations
  where status = 'connected' and (config ->> 'syncIntervalMinutes') ~ '^[0-9]{{1,5}}$'
    and (last_sync_at is null
         or last_sync_at <= p_now - make_interval(mins => (config ->> 'syncIntervalMinutes')::int))
$$;
revoke all on function app.integrations_due_sync(timestamptz) from public;
grant execute on function app.integrations_due_sync(timestamptz) to {APP_ROLE};
"""


def upgrade() -> None:
    op.execute(FUNCTIONS)


def downgrade() -> None:
    op.execute("drop function app.integrations_due_sync(timestamptz)")
    op.execute("drop function app.integration_oauth_pending(text)")

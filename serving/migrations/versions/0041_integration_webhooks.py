"""Integrations' webhooks (issue 17 §3): the organization of an installed integration by its id, for a provider's
signed callback that carries no session of ours (Calendly). Ids only; the signature is checked afterwards with the
integration's own sealed key.

Revision ID: 0041
Revises: 0040
"""
from collections.abc import Sequence

from alembic import op

from serving.core.config import APP_ROLE

revision: str = "0041"
down_revision: str | None = "0040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(f"""
create function app.integration_organization(p_integration_id uuid, p_provider text)
returns uuid language sql stable security definer set search_path = app, pg_temp as $$
  select organization_id from app.team_integrations
  where id = p_integration_id and provider = p_provider and status = 'connected'
$$;
revoke all on function app.integration_organization(uuid, text) from public;
grant execute on function app.integration_organization(uuid, text) to {APP_ROLE};
""")


def downgrade() -> None:
    op.execute("drop function app.integration_organization(uuid, text)")

"""One round trip per authenticated request: bind the transaction to the token's organization and read its user.

Before, a Bearer request spent two round trips on it (`set_config`, then the user by primary key through the
ORM) before its own query. The function does both in one call; it is a security definer only to read the user
before the binding is visible to row-level security, and it returns the user only inside that organization.

Revision ID: 0010
Revises: 0009
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
create function app.bind_token_user(p_org uuid, p_user uuid)
returns table (organization_id uuid, user_id uuid, role text, team_id uuid, is_active boolean)
language plpgsql volatile security definer set search_path = app, pg_temp as $$
#variable_conflict use_column
begin
  perform set_config('app.organization_id', p_org::text, true);
  return query
    select u.organization_id, u.id, u.role::text, u.team_id, u.is_active
    from app.users u
    where u.id = p_user and u.organization_id = p_org;
end $$;

revoke all on function app.bind_token_user(uuid, uuid) from public;
grant execute on function app.bind_token_user(uuid, uuid) to revorc_app;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute("drop function if exists app.bind_token_user(uuid, uuid)")

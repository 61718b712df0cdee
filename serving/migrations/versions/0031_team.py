"""Team management and preferences (issue 18 §1–2): account tokens (verify, reset), user preferences, signed-out
access tokens, two-factor columns on users; the notification preferences' own time zone goes (the profile's is
the one); sign-in binds the token's `jti` too (revoked tokens and the two-factor requirement checked in the same
round trip).

Revision ID: 0031
Revises: 0030
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from serving.core.rls import tenant_policy_sql

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("account_tokens", "user_preferences", "revoked_tokens")

# Public routes (accept an invitation, verify an address, reset a password) have no tenant until the token names
# one: these return only the organization of a live token's row.
FUNCTIONS = """
create function app.invitation_organization(p_hash text)
returns uuid language sql stable security definer set search_path = app, pg_temp as $$
  select organization_id from app.team_invitations where token_hash = p_hash
$$;
revoke all on function app.invitation_organization(text) from public;
grant execute on function app.invitation_organization(text) to revorc_app;

create function app.account_token_organization(p_hash text)
returns uuid language sql stable security definer set search_path = app, pg_temp as $$
  select organization_id from app.account_tokens where token_hash = p_hash
$$;
revoke all on function app.account_token_organization(text) from public;
grant execute on function app.account_token_organization(text) to revorc_app;

-- sign-up names a new organization as the API role: whether a slug is taken anywhere (a yes or no, nothing else)
create function app.organization_slug_taken(p_slug text)
returns boolean language sql stable security definer set search_path = app, pg_temp as $$
  select exists (select 1 from app.organizations where slug = p_slug)
$$;
revoke all on function app.organization_slug_taken(text) from public;
grant execute on function app.organization_slug_taken(text) to revorc_app;

-- the weekly summary's hourly sweep: active users who have not turned it off, with their time zone (ids only)
create function app.weekly_digest_recipients()
returns table (organization_id uuid, user_id uuid, timezone text, sent_for timestamptz)
language sql stable security definer set search_path = app, pg_temp as $$
  select u.organization_id, u.id, coalesce(p.timezone, 'UTC'), up.weekly_digest_sent_for
  from app.users u
  left join app.profiles p on p.user_id = u.id
  left join app.user_preferences up on up.user_id = u.id
  where u.is_active and coalesce(up.weekly_digest, true)
$$;
revoke all on function app.weekly_digest_recipients() from public;
grant execute on function app.weekly_digest_recipients() to revorc_app;

-- signed-out tokens past their expiry are forgotten nightly, across organizations
create function app.purge_revoked_tokens(p_now timestamptz)
returns integer language sql volatile security definer set search_path = app, pg_temp as $$
  with gone as (delete from app.revoked_tokens where expires_at <= p_now returning 1) select count(*)::int from gone
$$;
revoke all on function app.purge_revoked_tokens(timestamptz) from public;
grant execute on function app.purge_revoked_tokens(timestamptz) to revorc_app;

-- bind_token_user (0010) with the token's jti: a signed-out token and a missing required second factor are
-- answered in the same round trip as the binding.
create function app.bind_token_user(p_org uuid, p_user uuid, p_jti text)
returns table (organization_id uuid, user_id uuid, role text, team_id uuid, is_active boolean,
               token_revoked boolean, two_factor_missing boolean)
language plpgsql volatile security definer set search_path = app, pg_temp as $$
#variable_conflict use_column
begin
  perform set_config('app.organization_id', p_org::text, true);
  return query
    select u.organization_id, u.id, u.role::text, u.team_id, u.is_active,
           exists (select 1 from app.revoked_tokens r where r.jti = p_jti),
           u.totp_enabled_at is null
             and coalesce((o.settings -> 'security' ->> 'requireTwoFactor')::boolean, false)
    from app.users u join app.organizations o on o.id = u.organization_id
    where u.id = p_user and u.organization_id = p_org;
end $$;
revoke all on function app.bind_token_user(uuid, uuid, text) from public;
grant execute on function app.bind_token_user(uuid, uuid, text) to revorc_app;
"""


def upgrade() -> None:
    op.add_column("users", sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True), schema="app")
    op.add_column("users", sa.Column("totp_secret", sa.Text(), nullable=True), schema="app")
    op.add_column("users", sa.Column("totp_enabled_at", sa.DateTime(timezone=True), nullable=True), schema="app")
    op.add_column("users", sa.Column("totp_last_step", sa.BigInteger(), nullable=True), schema="app")
    op.add_column("users", sa.Column("totp_recovery_hashes", sa.ARRAY(sa.Text()), server_default="{}",
                                     nullable=False), schema="app")
    # everyone who exists was made by an admin or the CLI with an address someone vouched for
    op.execute("update app.users set email_verified_at = created_at")
    op.create_table(
        "account_tokens",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint("purpose in ('verify_email', 'reset_password')",
                           name=op.f("ck_account_tokens_purpose_valid")),
        sa.ForeignKeyConstraint(["organization_id"], ["app.organizations.id"],
                                name=op.f("fk_account_tokens_organization_id_organizations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["app.users.id"], name=op.f("fk_account_tokens_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_tokens_token_hash")),
        schema="app",
    )
    op.create_index(op.f("ix_account_tokens_organization_id"), "account_tokens", ["organization_id"], unique=False,
                    schema="app")
    op.create_index(op.f("ix_account_tokens_user_id"), "account_tokens", ["user_id"], unique=False, schema="app")
    op.create_table(
        "user_preferences",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("theme", sa.Text(), server_default="light", nullable=False),
        sa.Column("weekly_digest", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("weekly_digest_sent_for", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("theme in ('light', 'dark')", name=op.f("ck_user_preferences_theme_valid")),
        sa.ForeignKeyConstraint(["organization_id"], ["app.organizations.id"],
                                name=op.f("fk_user_preferences_organization_id_organizations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["app.users.id"], name=op.f("fk_user_preferences_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_preferences")),
        schema="app",
    )
    op.create_index(op.f("ix_user_preferences_organization_id"), "user_preferences", ["organization_id"],
                    unique=False, schema="app")
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.Text(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["app.organizations.id"],
                                name=op.f("fk_revoked_tokens_organization_id_organizations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["app.users.id"], name=op.f("fk_revoked_tokens_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_tokens")),
        schema="app",
    )
    op.create_index(op.f("ix_revoked_tokens_organization_id"), "revoked_tokens", ["organization_id"],
                    unique=False, schema="app")
    op.create_index(op.f("ix_revoked_tokens_expires_at"), "revoked_tokens", ["expires_at"], unique=False,
                    schema="app")
    for table in TABLES:
        for statement in tenant_policy_sql(table):
            op.execute(statement)
    # one time zone per user: a notification time zone chosen before becomes the profile's (when that was unset)
    op.execute("""update app.profiles p set timezone = n.timezone from app.notification_preferences n
                  where n.user_id = p.user_id and p.timezone = 'UTC' and n.timezone <> 'UTC'""")
    op.drop_column("notification_preferences", "timezone", schema="app")
    op.execute(FUNCTIONS)


def downgrade() -> None:
    op.execute("drop function app.bind_token_user(uuid, uuid, text)")
    op.execute("drop function app.purge_revoked_tokens(timestamptz)")
    op.execute("drop function app.weekly_digest_recipients()")
    op.execute("drop function app.organization_slug_taken(text)")
    op.execute("drop function app.account_token_organization(text)")
    op.execute("drop function app.invitation_organization(text)")
    op.add_column("notification_preferences", sa.Column("timezone", sa.Text(), server_default="UTC", nullable=False),
                  schema="app")
    op.execute("""update app.notification_preferences n set timezone = p.timezone from app.profiles p
                  where p.user_id = n.user_id""")
    op.drop_index(op.f("ix_revoked_tokens_expires_at"), table_name="revoked_tokens", schema="app")
    op.drop_index(op.f("ix_revoked_tokens_organization_id"), table_name="revoked_tokens", schema="app")
    op.drop_table("revoked_tokens", schema="app")
    op.drop_index(op.f("ix_user_preferences_organization_id"), table_name="user_preferences", schema="app")
    op.drop_table("user_preferences", schema="app")
    op.drop_index(op.f("ix_account_tokens_user_id"), table_name="account_tokens", schema="app")
    op.drop_index(op.f("ix_account_tokens_organization_id"), table_name="account_tokens", schema="app")
    op.drop_table("account_tokens", schema="app")
    for column in ("totp_recovery_hashes", "totp_last_step", "totp_enabled_at", "totp_secret", "email_verified_at"):
        op.drop_column("users", column, schema="app")

"""Revocable sign-in sessions (`app.auth_sessions`): the dashboards keep a user signed in across reloads with a
short-lived signed session token that is checked against this table, so signing out revokes it.

Revision ID: 0007
Revises: 0006
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from serving.core.rls import tenant_policy_sql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_sessions",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["app.organizations.id"],
                                name=op.f("fk_auth_sessions_organization_id_organizations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["app.users.id"], name=op.f("fk_auth_sessions_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
        schema="app",
    )
    op.create_index(op.f("ix_auth_sessions_organization_id"), "auth_sessions", ["organization_id"], unique=False,
                    schema="app")
    op.create_index("ix_auth_sessions_user_expires", "auth_sessions", ["user_id", "expires_at"], unique=False,
                    schema="app")
    for statement in tenant_policy_sql("auth_sessions"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_auth_sessions_user_expires", table_name="auth_sessions", schema="app")
    op.drop_index(op.f("ix_auth_sessions_organization_id"), table_name="auth_sessions", schema="app")
    op.drop_table("auth_sessions", schema="app")

"""The rep's workspace (issue 16): saved views of the prospect list, and the indexes its filters need.

Revision ID: 0034
Revises: 0033
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from serving.core.rls import tenant_policy_sql

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_views",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("entity", sa.Text(), server_default="prospects", nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("filters", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("shared", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["app.organizations.id"],
                                name=op.f("fk_saved_views_organization_id_organizations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["app.users.id"], name=op.f("fk_saved_views_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
        sa.UniqueConstraint("organization_id", "user_id", "entity", "name",
                            name=op.f("uq_saved_views_organization_id_user_id_entity_name")),
        schema="app",
    )
    op.create_index(op.f("ix_saved_views_organization_id"), "saved_views", ["organization_id"], unique=False,
                    schema="app")
    for statement in tenant_policy_sql("saved_views"):
        op.execute(statement)
    op.create_index("ix_prospects_org_last_contacted", "prospects", ["organization_id", "last_contacted_at"],
                    unique=False, schema="app")
    op.create_index("ix_prospects_custom_fields", "prospects", ["custom_fields"], unique=False, schema="app",
                    postgresql_using="gin", postgresql_ops={"custom_fields": "jsonb_path_ops"})


def downgrade() -> None:
    op.drop_index("ix_prospects_custom_fields", table_name="prospects", schema="app",
                  postgresql_using="gin", postgresql_ops={"custom_fields": "jsonb_path_ops"})
    op.drop_index("ix_prospects_org_last_contacted", table_name="prospects", schema="app")
    op.drop_index(op.f("ix_saved_views_organization_id"), table_name="saved_views", schema="app")
    op.drop_table("saved_views", schema="app")

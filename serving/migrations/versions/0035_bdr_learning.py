"""The BDR agent's learning (issue 15 §3): messaging variants (the bandit's arms), policy backtests, and the
variant a queued draft was written with.

(Revision 0030 was reserved for this and shipped empty; installs already ran it, so the tables come here.)

Revision ID: 0035
Revises: 0034
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from serving.core.rls import tenant_policy_sql

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ["bdr_message_variants", "bdr_policy_backtests"]


def upgrade() -> None:
    op.create_table(
        "bdr_message_variants",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("tone", sa.Text(), nullable=True),
        sa.Column("instructions", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("winner_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status in ('active', 'paused')", name=op.f("ck_bdr_message_variants_status_valid")),
        sa.ForeignKeyConstraint(["organization_id"], ["app.organizations.id"],
                                name=op.f("fk_bdr_message_variants_organization_id_organizations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bdr_message_variants")),
        sa.UniqueConstraint("organization_id", "name", name=op.f("uq_bdr_message_variants_organization_id_name")),
        schema="app",
    )
    op.create_table(
        "bdr_policy_backtests",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("settings", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("settings_hash", sa.Text(), nullable=False),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("accepted_by", sa.UUID(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["accepted_by"], ["app.users.id"],
                                name=op.f("fk_bdr_policy_backtests_accepted_by_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["created_by"], ["app.users.id"],
                                name=op.f("fk_bdr_policy_backtests_created_by_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["organization_id"], ["app.organizations.id"],
                                name=op.f("fk_bdr_policy_backtests_organization_id_organizations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bdr_policy_backtests")),
        schema="app",
    )
    op.create_index("ix_bdr_policy_backtests_org_created", "bdr_policy_backtests", ["organization_id", "created_at"],
                    unique=False, schema="app")
    op.create_index("ix_bdr_policy_backtests_org_hash", "bdr_policy_backtests", ["organization_id", "settings_hash"],
                    unique=False, schema="app")
    op.add_column("bdr_approval_queue", sa.Column("variant_id", sa.UUID(), nullable=True), schema="app")
    op.create_foreign_key(op.f("fk_bdr_approval_queue_variant_id_bdr_message_variants"), "bdr_approval_queue",
                          "bdr_message_variants", ["variant_id"], ["id"], source_schema="app", referent_schema="app",
                          ondelete="SET NULL")
    for table in TABLES:
        for statement in tenant_policy_sql(table):
            op.execute(statement)


def downgrade() -> None:
    op.drop_constraint(op.f("fk_bdr_approval_queue_variant_id_bdr_message_variants"), "bdr_approval_queue",
                       schema="app", type_="foreignkey")
    op.drop_column("bdr_approval_queue", "variant_id", schema="app")
    for table in reversed(TABLES):
        op.drop_table(table, schema="app")

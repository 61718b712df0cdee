"""Enrichment: vendor answers cached per organization in Postgres (shared by every API and worker process), and
the index that reads this month's spend per provider.

Revision ID: 0042
Revises: 0041
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from serving.core.rls import tenant_policy_sql

revision: str = "0042"
down_revision: str | None = "0041"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROVIDERS = "provider in ('clearbit', 'zoominfo', 'apollo', 'hunter', 'pdl')"


def upgrade() -> None:
    op.create_table(
        "enrichment_cache",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("lookup_hash", sa.Text(), nullable=False),
        sa.Column("answer", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(PROVIDERS, name=op.f("ck_enrichment_cache_provider_valid")),
        sa.ForeignKeyConstraint(["organization_id"], ["app.organizations.id"],
                                name=op.f("fk_enrichment_cache_organization_id_organizations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrichment_cache")),
        sa.UniqueConstraint("organization_id", "provider", "lookup_hash",
                            name=op.f("uq_enrichment_cache_organization_id_provider_lookup_hash")),
        schema="app",
    )
    for statement in tenant_policy_sql("enrichment_cache"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("enrichment_cache", schema="app")

"""Enrichment (issue 17 §4): per-organization vendor settings and one row per provider request.

Revision ID: 0040
Revises: 0039
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from serving.core.rls import tenant_policy_sql

revision: str = "0040"
down_revision: str | None = "0039"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ["enrichment_providers", "enrichment_requests"]
PROVIDERS = "provider in ('clearbit', 'zoominfo', 'apollo', 'hunter', 'pdl')"
STATUSES = ("status in ('ok', 'no_match', 'bad_key', 'rate_limited', 'provider_error', 'error', "
            "'skipped_cost_cap')")


def _org(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["organization_id"], ["app.organizations.id"],
                                   name=op.f(f"fk_{table}_organization_id_organizations"), ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "enrichment_providers",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("priority", sa.Integer(), server_default="100", nullable=False),
        sa.Column("sealed_api_key", sa.Text(), nullable=True),
        sa.Column("cost_cents_per_request", sa.Integer(), server_default="0", nullable=False),
        sa.Column("monthly_cap_cents", sa.Integer(), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(PROVIDERS, name=op.f("ck_enrichment_providers_provider_valid")),
        sa.CheckConstraint("cost_cents_per_request >= 0",
                           name=op.f("ck_enrichment_providers_cost_cents_per_request_non_negative")),
        sa.CheckConstraint("monthly_cap_cents is null or monthly_cap_cents >= 0",
                           name=op.f("ck_enrichment_providers_monthly_cap_cents_non_negative")),
        _org("enrichment_providers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrichment_providers")),
        sa.UniqueConstraint("organization_id", "provider",
                            name=op.f("uq_enrichment_providers_organization_id_provider")),
        schema="app",
    )
    op.create_table(
        "enrichment_requests",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("prospect_id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("fields_returned", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("cost_cents", sa.Integer(), server_default="0", nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("cache_hit", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(PROVIDERS, name=op.f("ck_enrichment_requests_provider_valid")),
        sa.CheckConstraint(STATUSES, name=op.f("ck_enrichment_requests_status_valid")),
        sa.CheckConstraint("cost_cents >= 0", name=op.f("ck_enrichment_requests_cost_cents_non_negative")),
        _org("enrichment_requests"),
        sa.ForeignKeyConstraint(["prospect_id"], ["app.prospects.id"],
                                name=op.f("fk_enrichment_requests_prospect_id_prospects"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrichment_requests")),
        schema="app",
    )
    op.create_index("ix_enrichment_requests_organization_created", "enrichment_requests",
                    ["organization_id", "created_at"], unique=False, schema="app")
    op.create_index("ix_enrichment_requests_prospect_id", "enrichment_requests", ["prospect_id"], unique=False,
                    schema="app")
    for table in TENANT_TABLES:
        for statement in tenant_policy_sql(table):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        op.drop_table(table, schema="app")

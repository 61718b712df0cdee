"""Flows (issue 17 §3): integration flows and their step-by-step executions, both with row-level security, and
the two definer functions that look across tenants without returning rows: the scheduler's organizations with
due flows, and the organization of a webhook-triggered flow (the hook URL carries no tenant).

Revision ID: 0037
Revises: 0035
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from serving.core.config import APP_ROLE
from serving.core.rls import tenant_policy_sql

revision: str = "0037"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = f"""
create function app.flows_due_organizations(p_now timestamptz)
returns setof uuid language sql stable security definer set search_path = app, pg_temp as $$
  select distinct organization_id from app.integration_flows
  where enabled and trigger_type = 'schedule' and next_run_at <= p_now
$$;
revoke all on function app.flows_due_organizations(timestamptz) from public;
grant execute on function app.flows_due_organizations(timestamptz) to {APP_ROLE};

create function app.flow_hook_organization(p_flow_id uuid)
returns uuid language sql stable security definer set search_path = app, pg_temp as $$
  select organization_id from app.integration_flows
  where id = p_flow_id and enabled and trigger_type = 'webhook' and hook_token_hash is not null
$$;
revoke all on function app.flow_hook_organization(uuid) from public;
grant execute on function app.flow_hook_organization(uuid) to {APP_ROLE};
"""


def upgrade() -> None:
    op.create_table(
        "integration_flows",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("trigger_type", sa.Text(), nullable=False),
        sa.Column("trigger", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("steps", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("hook_token_hash", sa.Text(), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("updated_by", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint("trigger_type in ('webhook', 'schedule', 'manual', 'record_change')",
                           name=op.f("ck_integration_flows_trigger_type_valid")),
        sa.ForeignKeyConstraint(["created_by"], ["app.users.id"],
                                name=op.f("fk_integration_flows_created_by_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["organization_id"], ["app.organizations.id"],
                                name=op.f("fk_integration_flows_organization_id_organizations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["updated_by"], ["app.users.id"],
                                name=op.f("fk_integration_flows_updated_by_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_flows")),
        sa.UniqueConstraint("organization_id", "name", name=op.f("uq_integration_flows_organization_id_name")),
        schema="app",
    )
    op.create_index("ix_integration_flows_due", "integration_flows", ["next_run_at"], unique=False, schema="app",
                    postgresql_where=sa.text("enabled and trigger_type = 'schedule'"))
    op.create_index(op.f("ix_integration_flows_organization_id"), "integration_flows", ["organization_id"],
                    unique=False, schema="app")
    op.create_table(
        "integration_flow_executions",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("flow_id", sa.UUID(), nullable=False),
        sa.Column("flow_version", sa.Integer(), nullable=False),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("trigger_type", sa.Text(), nullable=False),
        sa.Column("trigger_payload", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("source_event_id", sa.UUID(), nullable=True),
        sa.Column("status", sa.Text(), server_default="queued", nullable=False),
        sa.Column("log", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("runs", sa.Integer(), server_default="0", nullable=False),
        sa.Column("started_by", sa.UUID(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.CheckConstraint("status in ('queued', 'running', 'succeeded', 'failed')",
                           name=op.f("ck_integration_flow_executions_status_valid")),
        sa.CheckConstraint("trigger_type in ('webhook', 'schedule', 'manual', 'record_change')",
                           name=op.f("ck_integration_flow_executions_trigger_type_valid")),
        sa.ForeignKeyConstraint(["flow_id"], ["app.integration_flows.id"],
                                name=op.f("fk_integration_flow_executions_flow_id_integration_flows"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["app.organizations.id"],
                                name=op.f("fk_integration_flow_executions_organization_id_organizations"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["started_by"], ["app.users.id"],
                                name=op.f("fk_integration_flow_executions_started_by_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_flow_executions")),
        sa.UniqueConstraint("flow_id", "source_event_id",
                            name=op.f("uq_integration_flow_executions_flow_id_source_event_id")),
        schema="app",
    )
    op.create_index("ix_integration_flow_executions_flow_created", "integration_flow_executions",
                    ["flow_id", "created_at"], unique=False, schema="app")
    op.create_index(op.f("ix_integration_flow_executions_organization_id"), "integration_flow_executions",
                    ["organization_id"], unique=False, schema="app")
    for table in ("integration_flows", "integration_flow_executions"):
        for statement in tenant_policy_sql(table):
            op.execute(statement)
    op.execute(FUNCTIONS)


def downgrade() -> None:
    op.execute("drop function app.flow_hook_organization(uuid)")
    op.execute("drop function app.flows_due_organizations(timestamptz)")
    op.drop_index(op.f("ix_integration_flow_executions_organization_id"), table_name="integration_flow_executions",
                  schema="app")
    op.drop_index("ix_integration_flow_executions_flow_created", table_name="integration_flow_executions",
                  schema="app")
    op.drop_table("integration_flow_executions", schema="app")
    op.drop_index(op.f("ix_integration_flows_organization_id"), table_name="integration_flows", schema="app")
    op.drop_index("ix_integration_flows_due", table_name="integration_flows", schema="app",
                  postgresql_where=sa.text("enabled and trigger_type = 'schedule'"))
    op.drop_table("integration_flows", schema="app")

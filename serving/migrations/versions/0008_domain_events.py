"""The domain-event outbox: `app.domain_events` (one row per state change, written in the change's transaction)
and `app.domain_event_deliveries` (one claim per event and subscriber, with attempts and a dead-letter state).

Revision ID: 0008
Revises: 0007
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from serving.core.config import APP_ROLE
from serving.core.rls import tenant_policy_sql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The worker's sweep has no tenant: this definer function returns organization ids only.
DUE_FUNCTION = """
create function app.domain_events_due_organizations(p_now timestamptz)
returns setof uuid
language sql stable security definer set search_path = app, pg_temp as $$
  select organization_id from app.domain_events where dispatched_at is null
  union
  select organization_id from app.domain_event_deliveries where status = 'pending' and next_attempt_at <= p_now
$$;
revoke all on function app.domain_events_due_organizations(timestamptz) from public;
grant execute on function app.domain_events_due_organizations(timestamptz) to {app_role};

-- The `task.due_soon` publisher: organizations with a pending task falling due in the window.
create function app.tasks_due_soon_organizations(p_from timestamptz, p_until timestamptz)
returns setof uuid
language sql stable security definer set search_path = app, pg_temp as $$
  select distinct organization_id from app.tasks where status = 'pending' and due_at > p_from and due_at <= p_until
$$;
revoke all on function app.tasks_due_soon_organizations(timestamptz, timestamptz) from public;
grant execute on function app.tasks_due_soon_organizations(timestamptz, timestamptz) to {app_role};
"""


def upgrade() -> None:
    op.create_table(
        "domain_events",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.UUID(), nullable=True),
        sa.Column("actor_user_id", sa.UUID(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("dedupe_key", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("clock_timestamp()"),
                  nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["app.organizations.id"],
                                name=op.f("fk_domain_events_organization_id_organizations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_events")),
        sa.UniqueConstraint("organization_id", "type", "dedupe_key",
                            name=op.f("uq_domain_events_organization_id_type_dedupe_key")),
        schema="app",
    )
    op.create_index("ix_domain_events_undispatched", "domain_events", ["organization_id", "recorded_at"],
                    unique=False, schema="app", postgresql_where="dispatched_at is null")
    op.create_index("ix_domain_events_org_type_occurred", "domain_events", ["organization_id", "type", "occurred_at"],
                    unique=False, schema="app")
    op.create_index("ix_domain_events_subject", "domain_events", ["organization_id", "subject_id"], unique=False,
                    schema="app")
    op.create_table(
        "domain_event_deliveries",
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("subscriber", sa.Text(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status in ('pending', 'done', 'dead')",
                           name=op.f("ck_domain_event_deliveries_status_valid")),
        sa.ForeignKeyConstraint(["event_id"], ["app.domain_events.id"],
                                name=op.f("fk_domain_event_deliveries_event_id_domain_events"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["app.organizations.id"],
                                name=op.f("fk_domain_event_deliveries_organization_id_organizations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id", "subscriber", name=op.f("pk_domain_event_deliveries")),
        schema="app",
    )
    op.create_index("ix_domain_event_deliveries_due", "domain_event_deliveries", ["organization_id", "next_attempt_at"],
                    unique=False, schema="app", postgresql_where="status = 'pending'")
    for table in ("domain_events", "domain_event_deliveries"):
        for statement in tenant_policy_sql(table):
            op.execute(statement)
    op.execute(DUE_FUNCTION.format(app_role=APP_ROLE))


def downgrade() -> None:
    op.execute("drop function if exists app.tasks_due_soon_organizations(timestamptz, timestamptz)")
    op.execute("drop function if exists app.domain_events_due_organizations(timestamptz)")
    op.drop_table("domain_event_deliveries", schema="app")
    op.drop_table("domain_events", schema="app")

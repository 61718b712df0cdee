"""Outbound webhooks: endpoints and delivery logs (issue 17), both with row-level security, and the definer
function the worker's sweep uses to find organizations with deliveries due.

Revision ID: 0022
Revises: 0021
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from serving.core.config import APP_ROLE
from serving.core.rls import tenant_policy_sql

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The sweep has no tenant: a definer function returns only organization ids, never rows.
FUNCTIONS = f"""
create function app.webhooks_due_organizations(p_now timestamptz)
returns setof uuid language sql stable security definer set search_path = app, pg_temp as $$
  select distinct l.organization_id from app.webhook_logs l
  join app.webhook_endpoints e on e.id = l.endpoint_id
  where l.status in ('pending', 'failed') and l.next_attempt_at <= p_now and e.enabled
$$;
revoke all on function app.webhooks_due_organizations(timestamptz) from public;
grant execute on function app.webhooks_due_organizations(timestamptz) to {APP_ROLE};
"""


def upgrade() -> None:
    op.create_table('webhook_endpoints',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('event_types', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('disabled_reason', sa.Text(), nullable=True),
    sa.Column('batch', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('batch_max_size', sa.Integer(), server_default='50', nullable=False),
    sa.Column('secret', sa.Text(), nullable=False),
    sa.Column('previous_secret', sa.Text(), nullable=True),
    sa.Column('previous_secret_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('allow_private', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_by', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['app.users.id'], name=op.f('fk_webhook_endpoints_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_webhook_endpoints_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints')),
    schema='app'
    )
    op.create_index(op.f('ix_webhook_endpoints_organization_id'), 'webhook_endpoints', ['organization_id'], unique=False, schema='app')
    op.create_table('webhook_logs',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('endpoint_id', sa.UUID(), nullable=False),
    sa.Column('event_ids', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('event_types', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('message_id', sa.Text(), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('replay_of', sa.UUID(), nullable=True),
    sa.Column('status', sa.Text(), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('request_headers', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('request_body', sa.Text(), nullable=True),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_headers', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('response_body', sa.Text(), nullable=True),
    sa.Column('latency_ms', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.CheckConstraint("status in ('pending', 'failed', 'succeeded', 'dead')", name=op.f('ck_webhook_logs_status_valid')),
    sa.ForeignKeyConstraint(['endpoint_id'], ['app.webhook_endpoints.id'], name=op.f('fk_webhook_logs_endpoint_id_webhook_endpoints'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_webhook_logs_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['replay_of'], ['app.webhook_logs.id'], name=op.f('fk_webhook_logs_replay_of_webhook_logs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_logs')),
    schema='app'
    )
    op.create_index('ix_webhook_logs_due', 'webhook_logs', ['organization_id', 'next_attempt_at'], unique=False, schema='app', postgresql_where=sa.text("status in ('pending', 'failed')"))
    op.create_index('ix_webhook_logs_endpoint_created', 'webhook_logs', ['endpoint_id', 'created_at'], unique=False, schema='app')
    op.create_index(op.f('ix_webhook_logs_organization_id'), 'webhook_logs', ['organization_id'], unique=False, schema='app')
    for table in ("webhook_endpoints", "webhook_logs"):
        for statement in tenant_policy_sql(table):
            op.execute(statement)
    op.execute(FUNCTIONS)


def downgrade() -> None:
    op.execute("drop function app.webhooks_due_organizations(timestamptz)")
    op.drop_index(op.f('ix_webhook_logs_organization_id'), table_name='webhook_logs', schema='app')
    op.drop_index('ix_webhook_logs_endpoint_created', table_name='webhook_logs', schema='app')
    op.drop_index('ix_webhook_logs_due', table_name='webhook_logs', schema='app', postgresql_where=sa.text("status in ('pending', 'failed')"))
    op.drop_table('webhook_logs', schema='app')
    op.drop_index(op.f('ix_webhook_endpoints_organization_id'), table_name='webhook_endpoints', schema='app')
    op.drop_table('webhook_endpoints', schema='app')

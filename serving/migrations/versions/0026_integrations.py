"""Integrations (issue 17 §3): the marketplace, installed integrations, usage, reviews, sync logs.

Revision ID: 0026
Revises: 0025
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

from serving.core.rls import tenant_policy_sql

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# integration_marketplace is a global catalogue, not a tenant table: no row-level security
TENANT_TABLES = ["team_integrations", "integration_usage_analytics", "integration_reviews", "integration_sync_logs"]


def _org(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f(f'fk_{table}_organization_id_organizations'), ondelete='CASCADE')


def upgrade() -> None:
    op.create_table('integration_marketplace',
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('category', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('auth_type', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.CheckConstraint("auth_type in ('oauth2', 'api_key', 'none')", name=op.f('ck_integration_marketplace_auth_type_valid')),
    sa.CheckConstraint("status in ('available', 'planned')", name=op.f('ck_integration_marketplace_status_valid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integration_marketplace')),
    sa.UniqueConstraint('key', name=op.f('uq_integration_marketplace_key')),
    schema='app'
    )
    op.create_table('team_integrations',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('provider', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('auth_type', sa.Text(), nullable=False),
    sa.Column('sealed_access_token', sa.Text(), nullable=True),
    sa.Column('sealed_refresh_token', sa.Text(), nullable=True),
    sa.Column('token_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sealed_api_key', sa.Text(), nullable=True),
    sa.Column('config', postgresql.JSONB(astext_type=Text()), server_default='{}', nullable=False),
    sa.Column('installed_by', sa.UUID(), nullable=True),
    sa.Column('last_sync_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('health_score', sa.Integer(), server_default='100', nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status in ('connected', 'error', 'disconnected', 'expired')", name=op.f('ck_team_integrations_status_valid')),
    sa.CheckConstraint("auth_type in ('oauth2', 'api_key', 'none')", name=op.f('ck_team_integrations_auth_type_valid')),
    sa.CheckConstraint('health_score >= 0 and health_score <= 100', name=op.f('ck_team_integrations_health_score_0_100')),
    sa.ForeignKeyConstraint(['installed_by'], ['app.users.id'], name=op.f('fk_team_integrations_installed_by_users'), ondelete='SET NULL'),
    _org('team_integrations'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_team_integrations')),
    sa.UniqueConstraint('organization_id', 'provider', name=op.f('uq_team_integrations_organization_id_provider')),
    schema='app'
    )
    op.create_table('integration_usage_analytics',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('integration_id', sa.UUID(), nullable=False),
    sa.Column('hour', sa.DateTime(timezone=True), nullable=False),
    sa.Column('calls', sa.Integer(), server_default='0', nullable=False),
    sa.Column('errors', sa.Integer(), server_default='0', nullable=False),
    sa.Column('latency_ms_sum', sa.Integer(), server_default='0', nullable=False),
    sa.Column('latency_ms_samples', postgresql.JSONB(astext_type=Text()), server_default='[]', nullable=False),
    sa.Column('cost_micros', sa.Integer(), server_default='0', nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.ForeignKeyConstraint(['integration_id'], ['app.team_integrations.id'], name=op.f('fk_integration_usage_analytics_integration_id_team_integrations'), ondelete='CASCADE'),
    _org('integration_usage_analytics'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integration_usage_analytics')),
    sa.UniqueConstraint('integration_id', 'hour', name=op.f('uq_integration_usage_analytics_integration_id_hour')),
    schema='app'
    )
    op.create_table('integration_reviews',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('provider', sa.Text(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), server_default='', nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('rating >= 1 and rating <= 5', name=op.f('ck_integration_reviews_rating_1_5')),
    _org('integration_reviews'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name=op.f('fk_integration_reviews_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integration_reviews')),
    sa.UniqueConstraint('organization_id', 'provider', 'user_id', name=op.f('uq_integration_reviews_organization_id_provider_user_id')),
    schema='app'
    )
    op.create_table('integration_sync_logs',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('integration_id', sa.UUID(), nullable=False),
    sa.Column('direction', sa.Text(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('read_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('updated_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('skipped_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('failed_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.CheckConstraint("direction in ('inbound', 'outbound', 'both')", name=op.f('ck_integration_sync_logs_direction_valid')),
    sa.CheckConstraint("status in ('running', 'succeeded', 'failed')", name=op.f('ck_integration_sync_logs_status_valid')),
    sa.ForeignKeyConstraint(['integration_id'], ['app.team_integrations.id'], name=op.f('fk_integration_sync_logs_integration_id_team_integrations'), ondelete='CASCADE'),
    _org('integration_sync_logs'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integration_sync_logs')),
    schema='app'
    )
    op.create_index('ix_integration_sync_logs_integration_started', 'integration_sync_logs', ['integration_id', 'started_at'], unique=False, schema='app')
    for table in TENANT_TABLES:
        for statement in tenant_policy_sql(table):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        op.drop_table(table, schema="app")
    op.drop_table('integration_marketplace', schema='app')

"""The BDR agent (issue 15): its configuration, tasks, activities, context memory, decisions, handoffs, approval
queue, workflow executions and daily performance — tenant tables with row-level security like the rest.

Revision ID: 0025
Revises: 0023
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

from serving.core.rls import tenant_policy_sql

revision: str = "0025"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ['bdr_agent_configs', 'bdr_tasks', 'bdr_activities', 'bdr_context_memory', 'bdr_decisions', 'bdr_handoffs', 'bdr_approval_queue', 'bdr_workflow_executions', 'bdr_performance_metrics']


def upgrade() -> None:
    op.create_table('bdr_performance_metrics',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('contacted', sa.Integer(), server_default='0', nullable=False),
    sa.Column('replies', sa.Integer(), server_default='0', nullable=False),
    sa.Column('handoffs', sa.Integer(), server_default='0', nullable=False),
    sa.Column('meetings', sa.Integer(), server_default='0', nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_bdr_performance_metrics_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bdr_performance_metrics')),
    sa.UniqueConstraint('organization_id', 'day', name=op.f('uq_bdr_performance_metrics_organization_id_day')),
    schema='app'
    )
    op.create_table('bdr_workflow_executions',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('trigger', sa.Text(), nullable=False),
    sa.Column('steps', postgresql.JSONB(astext_type=Text()), server_default='[]', nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_bdr_workflow_executions_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bdr_workflow_executions')),
    schema='app'
    )
    op.create_index('ix_bdr_workflow_executions_org_created', 'bdr_workflow_executions', ['organization_id', 'created_at'], unique=False, schema='app')
    op.create_table('bdr_agent_configs',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('acting_user_id', sa.UUID(), nullable=True),
    sa.Column('approval_mode', sa.Text(), server_default='all', nullable=False),
    sa.Column('settings', postgresql.JSONB(astext_type=Text()), server_default='{}', nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("approval_mode in ('all', 'first_touch', 'auto_above_confidence')", name=op.f('ck_bdr_agent_configs_approval_mode_valid')),
    sa.ForeignKeyConstraint(['acting_user_id'], ['app.users.id'], name=op.f('fk_bdr_agent_configs_acting_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_bdr_agent_configs_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bdr_agent_configs')),
    sa.UniqueConstraint('organization_id', name=op.f('uq_bdr_agent_configs_organization_id')),
    schema='app'
    )
    op.create_table('bdr_activities',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('prospect_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('detail', postgresql.JSONB(astext_type=Text()), server_default='{}', nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_bdr_activities_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prospect_id'], ['app.prospects.id'], name=op.f('fk_bdr_activities_prospect_id_prospects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bdr_activities')),
    schema='app'
    )
    op.create_index('ix_bdr_activities_org_kind', 'bdr_activities', ['organization_id', 'kind', 'occurred_at'], unique=False, schema='app')
    op.create_index('ix_bdr_activities_prospect', 'bdr_activities', ['prospect_id', 'occurred_at'], unique=False, schema='app')
    op.create_table('bdr_context_memory',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('prospect_id', sa.UUID(), nullable=False),
    sa.Column('fact', sa.Text(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_bdr_context_memory_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prospect_id'], ['app.prospects.id'], name=op.f('fk_bdr_context_memory_prospect_id_prospects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bdr_context_memory')),
    sa.UniqueConstraint('prospect_id', 'source', 'fact', name=op.f('uq_bdr_context_memory_prospect_id_source_fact')),
    schema='app'
    )
    op.create_table('bdr_decisions',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('prospect_id', sa.UUID(), nullable=True),
    sa.Column('step', sa.Text(), nullable=False),
    sa.Column('inputs', postgresql.JSONB(astext_type=Text()), server_default='{}', nullable=False),
    sa.Column('options', postgresql.JSONB(astext_type=Text()), server_default='[]', nullable=False),
    sa.Column('chosen', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('outcome', postgresql.JSONB(astext_type=Text()), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_bdr_decisions_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prospect_id'], ['app.prospects.id'], name=op.f('fk_bdr_decisions_prospect_id_prospects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bdr_decisions')),
    schema='app'
    )
    op.create_index('ix_bdr_decisions_org_created', 'bdr_decisions', ['organization_id', 'created_at'], unique=False, schema='app')
    op.create_index('ix_bdr_decisions_prospect', 'bdr_decisions', ['prospect_id', 'created_at'], unique=False, schema='app')
    op.create_table('bdr_handoffs',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('prospect_id', sa.UUID(), nullable=False),
    sa.Column('to_user_id', sa.UUID(), nullable=True),
    sa.Column('status', sa.Text(), server_default='pending', nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('framework', sa.Text(), nullable=False),
    sa.Column('qualification', postgresql.JSONB(astext_type=Text()), server_default='{}', nullable=False),
    sa.Column('conversation', postgresql.JSONB(astext_type=Text()), server_default='[]', nullable=False),
    sa.Column('accepted_by', sa.UUID(), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status in ('pending', 'accepted')", name=op.f('ck_bdr_handoffs_status_valid')),
    sa.ForeignKeyConstraint(['accepted_by'], ['app.users.id'], name=op.f('fk_bdr_handoffs_accepted_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_bdr_handoffs_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prospect_id'], ['app.prospects.id'], name=op.f('fk_bdr_handoffs_prospect_id_prospects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_user_id'], ['app.users.id'], name=op.f('fk_bdr_handoffs_to_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bdr_handoffs')),
    schema='app'
    )
    op.create_index('ix_bdr_handoffs_org_created', 'bdr_handoffs', ['organization_id', 'created_at'], unique=False, schema='app')
    op.create_index('ix_bdr_handoffs_prospect', 'bdr_handoffs', ['prospect_id'], unique=False, schema='app')
    op.create_table('bdr_tasks',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('prospect_id', sa.UUID(), nullable=False),
    sa.Column('step', sa.Text(), nullable=False),
    sa.Column('step_key', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('result', postgresql.JSONB(astext_type=Text()), server_default='{}', nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status in ('done', 'skipped', 'failed')", name=op.f('ck_bdr_tasks_status_valid')),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_bdr_tasks_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prospect_id'], ['app.prospects.id'], name=op.f('fk_bdr_tasks_prospect_id_prospects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bdr_tasks')),
    sa.UniqueConstraint('organization_id', 'step_key', name=op.f('uq_bdr_tasks_organization_id_step_key')),
    schema='app'
    )
    op.create_index('ix_bdr_tasks_org_created', 'bdr_tasks', ['organization_id', 'created_at'], unique=False, schema='app')
    op.create_table('bdr_approval_queue',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('prospect_id', sa.UUID(), nullable=False),
    sa.Column('draft_id', sa.UUID(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), server_default='pending', nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.UUID(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('email_id', sa.UUID(), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status in ('pending', 'sent', 'rejected')", name=op.f('ck_bdr_approval_queue_status_valid')),
    sa.ForeignKeyConstraint(['decided_by'], ['app.users.id'], name=op.f('fk_bdr_approval_queue_decided_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['draft_id'], ['app.ai_email_drafts.id'], name=op.f('fk_bdr_approval_queue_draft_id_ai_email_drafts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_bdr_approval_queue_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prospect_id'], ['app.prospects.id'], name=op.f('fk_bdr_approval_queue_prospect_id_prospects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bdr_approval_queue')),
    schema='app'
    )
    op.create_index('ix_bdr_approval_queue_draft', 'bdr_approval_queue', ['draft_id'], unique=False, schema='app')
    op.create_index('ix_bdr_approval_queue_org_created', 'bdr_approval_queue', ['organization_id', 'created_at'], unique=False, schema='app')
    for table in TABLES:
        for statement in tenant_policy_sql(table):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table, schema="app")

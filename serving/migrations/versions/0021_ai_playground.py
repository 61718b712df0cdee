"""The AI playground: experiments and agent sessions (issue 14), with row-level security like every tenant table.

Revision ID: 0021
Revises: 0020
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

from serving.core.rls import tenant_policy_sql

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ai_playground_experiments',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('task', sa.Text(), server_default='draft', nullable=False),
    sa.Column('prompt_template', sa.Text(), nullable=False),
    sa.Column('variables', postgresql.JSONB(astext_type=Text()), server_default='{}', nullable=False),
    sa.Column('prospect_id', sa.UUID(), nullable=True),
    sa.Column('arms', postgresql.JSONB(astext_type=Text()), server_default='[]', nullable=False),
    sa.Column('runs', postgresql.JSONB(astext_type=Text()), server_default='[]', nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_ai_playground_experiments_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prospect_id'], ['app.prospects.id'], name=op.f('fk_ai_playground_experiments_prospect_id_prospects'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name=op.f('fk_ai_playground_experiments_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ai_playground_experiments')),
    schema='app'
    )
    op.create_index('ix_ai_playground_experiments_org_created', 'ai_playground_experiments', ['organization_id', 'created_at'], unique=False, schema='app')
    op.create_table('ai_agent_sessions',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('agent', sa.Text(), nullable=False),
    sa.Column('experiment_id', sa.UUID(), nullable=True),
    sa.Column('prospect_id', sa.UUID(), nullable=True),
    sa.Column('status', sa.Text(), server_default='open', nullable=False),
    sa.Column('messages', postgresql.JSONB(astext_type=Text()), server_default='[]', nullable=False),
    sa.Column('tool_calls', postgresql.JSONB(astext_type=Text()), server_default='[]', nullable=False),
    sa.Column('input_tokens', sa.Integer(), server_default='0', nullable=False),
    sa.Column('output_tokens', sa.Integer(), server_default='0', nullable=False),
    sa.Column('cost_usd', sa.Numeric(precision=14, scale=6), server_default='0', nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['experiment_id'], ['app.ai_playground_experiments.id'], name=op.f('fk_ai_agent_sessions_experiment_id_ai_playground_experiments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_ai_agent_sessions_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prospect_id'], ['app.prospects.id'], name=op.f('fk_ai_agent_sessions_prospect_id_prospects'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name=op.f('fk_ai_agent_sessions_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ai_agent_sessions')),
    schema='app'
    )
    op.create_index('ix_ai_agent_sessions_org_created', 'ai_agent_sessions', ['organization_id', 'created_at'], unique=False, schema='app')
    for table in ("ai_playground_experiments", "ai_agent_sessions"):
        for statement in tenant_policy_sql(table):
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("ai_agent_sessions", schema="app")
    op.drop_table("ai_playground_experiments", schema="app")

"""Lead scoring: registered models (champion per organization), the predictions log, daily score history,
team rule sets with a score threshold, and in-app notifications for the threshold hook.

Revision ID: 0004
Revises: 0003
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from serving.core.rls import tenant_policy_sql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ["ml_models", "ai_predictions", "lead_score_history", "scoring_rule_sets", "notifications"]


def upgrade() -> None:
    op.create_table('ml_models',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.Text(), server_default='lead_scoring', nullable=False),
    sa.Column('version', sa.Text(), nullable=False),
    sa.Column('version_number', sa.Integer(), nullable=True),
    sa.Column('family', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), server_default='candidate', nullable=False),
    sa.Column('is_champion', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('metrics', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('model_card', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('evaluation', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('score_distribution', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('champion_history', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('artifact_path', sa.Text(), nullable=False),
    sa.Column('artifact_sha256', sa.Text(), nullable=False),
    sa.Column('data_window', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('trained_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('registered_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('promoted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.CheckConstraint("status in ('candidate', 'champion', 'retired')", name=op.f('ck_ml_models_status_valid')),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_ml_models_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ml_models')),
    sa.UniqueConstraint('organization_id', 'name', 'version', name=op.f('uq_ml_models_organization_id_name_version')),
    schema='app'
    )
    op.create_index('ix_ml_models_org_registered', 'ml_models', ['organization_id', 'registered_at'], unique=False, schema='app')
    op.create_index(op.f('ix_ml_models_organization_id'), 'ml_models', ['organization_id'], unique=False, schema='app')
    op.create_index('uq_ml_models_champion', 'ml_models', ['organization_id', 'name'], unique=True, schema='app', postgresql_where=sa.text('is_champion'))
    op.create_table('notifications',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('type', sa.Text(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('priority', sa.Text(), server_default='medium', nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.CheckConstraint("priority in ('low', 'medium', 'high', 'urgent')", name=op.f('ck_notifications_priority_valid')),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_notifications_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    schema='app'
    )
    op.create_index('ix_notifications_org_created', 'notifications', ['organization_id', 'created_at'], unique=False, schema='app')
    op.create_index(op.f('ix_notifications_organization_id'), 'notifications', ['organization_id'], unique=False, schema='app')
    op.create_index(op.f('ix_notifications_type'), 'notifications', ['type'], unique=False, schema='app')
    op.create_index('ix_notifications_user_created', 'notifications', ['user_id', 'created_at'], unique=False, schema='app')
    op.create_index('ix_notifications_user_unread', 'notifications', ['user_id'], unique=False, schema='app', postgresql_where='read_at is null')
    op.create_table('scoring_rule_sets',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('team_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('mode', sa.Text(), server_default='ml_only', nullable=False),
    sa.Column('ml_weight', sa.Float(), server_default='0.5', nullable=False),
    sa.Column('rules', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('score_threshold', sa.Integer(), nullable=True),
    sa.Column('updated_by', sa.UUID(), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("mode in ('ml_only', 'rules_only', 'blend')", name=op.f('ck_scoring_rule_sets_mode_valid')),
    sa.CheckConstraint('ml_weight >= 0 and ml_weight <= 1', name=op.f('ck_scoring_rule_sets_ml_weight_0_1')),
    sa.CheckConstraint('score_threshold is null or (score_threshold >= 0 and score_threshold <= 100)', name=op.f('ck_scoring_rule_sets_score_threshold_0_100')),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_scoring_rule_sets_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['app.teams.id'], name=op.f('fk_scoring_rule_sets_team_id_teams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by'], ['app.users.id'], name=op.f('fk_scoring_rule_sets_updated_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scoring_rule_sets')),
    sa.UniqueConstraint('organization_id', 'team_id', name=op.f('uq_scoring_rule_sets_organization_id_team_id')),
    schema='app'
    )
    op.create_index(op.f('ix_scoring_rule_sets_organization_id'), 'scoring_rule_sets', ['organization_id'], unique=False, schema='app')
    op.create_index(op.f('ix_scoring_rule_sets_team_id'), 'scoring_rule_sets', ['team_id'], unique=False, schema='app')
    op.create_table('ai_predictions',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('prospect_id', sa.UUID(), nullable=True),
    sa.Column('prediction_type', sa.Text(), server_default='lead_scoring', nullable=False),
    sa.Column('model_version', sa.Text(), nullable=True),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('inputs_hash', sa.Text(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('ml_score', sa.Integer(), nullable=True),
    sa.Column('probability', sa.Float(), nullable=True),
    sa.Column('tier', sa.Text(), nullable=True),
    sa.Column('top_factors', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("source in ('batch', 'realtime')", name=op.f('ck_ai_predictions_source_valid')),
    sa.CheckConstraint("tier is null or tier in ('low', 'warm', 'hot', 'burning')", name=op.f('ck_ai_predictions_tier_valid')),
    sa.CheckConstraint('ml_score is null or (ml_score >= 0 and ml_score <= 100)', name=op.f('ck_ai_predictions_ml_score_0_100')),
    sa.CheckConstraint('score is null or (score >= 0 and score <= 100)', name=op.f('ck_ai_predictions_score_0_100')),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_ai_predictions_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prospect_id'], ['app.prospects.id'], name=op.f('fk_ai_predictions_prospect_id_prospects'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ai_predictions')),
    schema='app'
    )
    op.create_index('ix_ai_predictions_org_created', 'ai_predictions', ['organization_id', 'created_at'], unique=False, schema='app')
    op.create_index('ix_ai_predictions_org_model', 'ai_predictions', ['organization_id', 'model_version'], unique=False, schema='app')
    op.create_index('ix_ai_predictions_prospect_created', 'ai_predictions', ['prospect_id', 'created_at'], unique=False, schema='app')
    op.create_table('lead_score_history',
    sa.Column('prospect_id', sa.UUID(), nullable=False),
    sa.Column('score_date', sa.Date(), nullable=False),
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('ml_score', sa.Integer(), nullable=True),
    sa.Column('tier', sa.Text(), nullable=True),
    sa.Column('model_version', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('ml_score is null or (ml_score >= 0 and ml_score <= 100)', name=op.f('ck_lead_score_history_ml_score_0_100')),
    sa.CheckConstraint('score is null or (score >= 0 and score <= 100)', name=op.f('ck_lead_score_history_score_0_100')),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_lead_score_history_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prospect_id'], ['app.prospects.id'], name=op.f('fk_lead_score_history_prospect_id_prospects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('prospect_id', 'score_date', name=op.f('pk_lead_score_history')),
    schema='app'
    )
    op.create_index('ix_lead_score_history_org_day', 'lead_score_history', ['organization_id', 'score_date'], unique=False, schema='app')
    for table in TENANT_TABLES:
        for statement in tenant_policy_sql(table):
            op.execute(statement)


def downgrade() -> None:
    op.drop_index('ix_lead_score_history_org_day', table_name='lead_score_history', schema='app')
    op.drop_table('lead_score_history', schema='app')
    op.drop_index('ix_ai_predictions_prospect_created', table_name='ai_predictions', schema='app')
    op.drop_index('ix_ai_predictions_org_model', table_name='ai_predictions', schema='app')
    op.drop_index('ix_ai_predictions_org_created', table_name='ai_predictions', schema='app')
    op.drop_table('ai_predictions', schema='app')
    op.drop_index(op.f('ix_scoring_rule_sets_team_id'), table_name='scoring_rule_sets', schema='app')
    op.drop_index(op.f('ix_scoring_rule_sets_organization_id'), table_name='scoring_rule_sets', schema='app')
    op.drop_table('scoring_rule_sets', schema='app')
    op.drop_index('ix_notifications_user_unread', table_name='notifications', schema='app', postgresql_where='read_at is null')
    op.drop_index('ix_notifications_user_created', table_name='notifications', schema='app')
    op.drop_index(op.f('ix_notifications_type'), table_name='notifications', schema='app')
    op.drop_index(op.f('ix_notifications_organization_id'), table_name='notifications', schema='app')
    op.drop_index('ix_notifications_org_created', table_name='notifications', schema='app')
    op.drop_table('notifications', schema='app')
    op.drop_index('uq_ml_models_champion', table_name='ml_models', schema='app', postgresql_where=sa.text('is_champion'))
    op.drop_index(op.f('ix_ml_models_organization_id'), table_name='ml_models', schema='app')
    op.drop_index('ix_ml_models_org_registered', table_name='ml_models', schema='app')
    op.drop_table('ml_models', schema='app')

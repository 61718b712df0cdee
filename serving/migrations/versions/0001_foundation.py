"""Foundation: the operational `app` schema, roles, row-level security and auth functions.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 18:51:53.428373
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from serving.core.rls import CURRENT_ORG_FUNCTION, create_roles_sql, schema_grants_sql, tenant_policy_sql

TENANT_TABLES = [
    "teams", "users", "profiles", "team_invitations", "api_keys", "api_key_usage_daily", "accounts",
    "company_profiles", "prospects", "deals", "deal_contacts", "activities", "call_logs", "audit_log",
    "idempotency_keys",
]

AUTH_FUNCTIONS = '''
create function app.authenticate_user(p_email text)
returns table (id uuid, organization_id uuid, password_hash text, role text, is_active boolean)
language sql stable security definer set search_path = app, pg_temp as $$
  select u.id, u.organization_id, u.password_hash, u.role, u.is_active
  from app.users u where u.email = lower(p_email)
$$;

create function app.authenticate_api_key(p_key_hash text)
returns table (id uuid, organization_id uuid, user_id uuid, scopes text[], status text,
               expires_at timestamptz, user_role text, user_active boolean, team_id uuid)
language sql stable security definer set search_path = app, pg_temp as $$
  select k.id, k.organization_id, k.user_id, k.scopes, k.status, k.expires_at, u.role, u.is_active, u.team_id
  from app.api_keys k join app.users u on u.id = k.user_id
  where k.key_hash = p_key_hash
$$;

revoke all on function app.authenticate_user(text) from public;
revoke all on function app.authenticate_api_key(text) from public;
grant execute on function app.authenticate_user(text) to revorc_app;
grant execute on function app.authenticate_api_key(text) to revorc_app;
'''

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("create schema if not exists app")
    op.execute(create_roles_sql())
    # pgvector ships with the embedded server; elsewhere it is optional until search needs it.
    op.execute(
        "do $$ begin if exists (select 1 from pg_available_extensions where name = 'vector') "
        "then create extension if not exists vector; end if; end $$"
    )
    op.create_table('idempotency_keys',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('principal_key', sa.Text(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('method', sa.Text(), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('request_hash', sa.Text(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response_body', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('organization_id', 'principal_key', 'key', name=op.f('pk_idempotency_keys')),
    schema='app'
    )
    op.create_index(op.f('ix_idempotency_keys_created_at'), 'idempotency_keys', ['created_at'], unique=False, schema='app')
    op.create_table('organizations',
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('slug', sa.Text(), nullable=False),
    sa.Column('plan', sa.Text(), server_default='free', nullable=False),
    sa.Column('settings', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("plan in ('free', 'starter', 'pro', 'enterprise')", name=op.f('ck_organizations_plan_valid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organizations')),
    sa.UniqueConstraint('slug', name=op.f('uq_organizations_slug')),
    schema='app'
    )
    op.create_table('teams',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('settings', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_teams_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    sa.UniqueConstraint('organization_id', 'name', name=op.f('uq_teams_organization_id_name')),
    schema='app'
    )
    op.create_index(op.f('ix_teams_organization_id'), 'teams', ['organization_id'], unique=False, schema='app')
    op.create_table('users',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('team_id', sa.UUID(), nullable=True),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=True),
    sa.Column('full_name', sa.Text(), nullable=True),
    sa.Column('role', sa.Text(), server_default='user', nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("role in ('admin', 'user', 'viewer')", name=op.f('ck_users_role_valid')),
    sa.CheckConstraint('email = lower(email)', name=op.f('ck_users_email_lower')),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_users_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['app.teams.id'], name=op.f('fk_users_team_id_teams'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email')),
    schema='app'
    )
    op.create_index(op.f('ix_users_organization_id'), 'users', ['organization_id'], unique=False, schema='app')
    op.create_index(op.f('ix_users_team_id'), 'users', ['team_id'], unique=False, schema='app')
    op.create_table('accounts',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('team_id', sa.UUID(), nullable=True),
    sa.Column('owner_id', sa.UUID(), nullable=True),
    sa.Column('parent_account_id', sa.UUID(), nullable=True),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('domain', sa.Text(), nullable=True),
    sa.Column('industry', sa.Text(), nullable=True),
    sa.Column('employee_count', sa.Integer(), nullable=True),
    sa.Column('annual_revenue', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('website', sa.Text(), nullable=True),
    sa.Column('phone', sa.Text(), nullable=True),
    sa.Column('country', sa.Text(), nullable=True),
    sa.Column('city', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('year_established', sa.Integer(), nullable=True),
    sa.Column('health_score', sa.Integer(), nullable=True),
    sa.Column('intent_score', sa.Integer(), nullable=True),
    sa.Column('intent_tier', sa.Text(), nullable=True),
    sa.Column('custom_fields', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('annual_revenue is null or annual_revenue >= 0', name=op.f('ck_accounts_annual_revenue_nonneg')),
    sa.CheckConstraint('employee_count is null or employee_count >= 0', name=op.f('ck_accounts_employee_count_nonneg')),
    sa.CheckConstraint('health_score is null or (health_score >= 0 and health_score <= 100)', name=op.f('ck_accounts_health_score_0_100')),
    sa.CheckConstraint('intent_score is null or (intent_score >= 0 and intent_score <= 100)', name=op.f('ck_accounts_intent_score_0_100')),
    sa.CheckConstraint('parent_account_id is null or parent_account_id <> id', name=op.f('ck_accounts_not_own_parent')),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_accounts_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['app.users.id'], name=op.f('fk_accounts_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['parent_account_id'], ['app.accounts.id'], name=op.f('fk_accounts_parent_account_id_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['app.teams.id'], name=op.f('fk_accounts_team_id_teams'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('organization_id', 'domain', name=op.f('uq_accounts_organization_id_domain')),
    schema='app'
    )
    op.create_index(op.f('ix_accounts_industry'), 'accounts', ['industry'], unique=False, schema='app')
    op.create_index('ix_accounts_org_name', 'accounts', ['organization_id', 'name'], unique=False, schema='app')
    op.create_index(op.f('ix_accounts_organization_id'), 'accounts', ['organization_id'], unique=False, schema='app')
    op.create_index(op.f('ix_accounts_owner_id'), 'accounts', ['owner_id'], unique=False, schema='app')
    op.create_index(op.f('ix_accounts_parent_account_id'), 'accounts', ['parent_account_id'], unique=False, schema='app')
    op.create_index(op.f('ix_accounts_team_id'), 'accounts', ['team_id'], unique=False, schema='app')
    op.create_table('api_keys',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('prefix', sa.Text(), nullable=False),
    sa.Column('key_hash', sa.Text(), nullable=False),
    sa.Column('scopes', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('environment', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), server_default='active', nullable=False),
    sa.Column('request_count', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rotated_from_id', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.CheckConstraint("environment in ('live', 'test')", name=op.f('ck_api_keys_environment_valid')),
    sa.CheckConstraint("status in ('active', 'revoked', 'expired')", name=op.f('ck_api_keys_status_valid')),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_api_keys_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rotated_from_id'], ['app.api_keys.id'], name=op.f('fk_api_keys_rotated_from_id_api_keys'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name=op.f('fk_api_keys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash')),
    schema='app'
    )
    op.create_index(op.f('ix_api_keys_organization_id'), 'api_keys', ['organization_id'], unique=False, schema='app')
    op.create_index(op.f('ix_api_keys_prefix'), 'api_keys', ['prefix'], unique=False, schema='app')
    op.create_index(op.f('ix_api_keys_user_id'), 'api_keys', ['user_id'], unique=False, schema='app')
    op.create_table('profiles',
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('first_name', sa.Text(), nullable=True),
    sa.Column('last_name', sa.Text(), nullable=True),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('phone', sa.Text(), nullable=True),
    sa.Column('avatar_url', sa.Text(), nullable=True),
    sa.Column('timezone', sa.Text(), server_default='UTC', nullable=False),
    sa.Column('language', sa.Text(), server_default='en', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_profiles_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name=op.f('fk_profiles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_profiles')),
    schema='app'
    )
    op.create_index(op.f('ix_profiles_organization_id'), 'profiles', ['organization_id'], unique=False, schema='app')
    op.create_table('team_invitations',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('team_id', sa.UUID(), nullable=True),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('role', sa.Text(), nullable=False),
    sa.Column('token_hash', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), server_default='pending', nullable=False),
    sa.Column('invited_by', sa.UUID(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.CheckConstraint("role in ('admin', 'user', 'viewer')", name=op.f('ck_team_invitations_role_valid')),
    sa.CheckConstraint("status in ('pending', 'accepted', 'expired', 'revoked')", name=op.f('ck_team_invitations_status_valid')),
    sa.ForeignKeyConstraint(['invited_by'], ['app.users.id'], name=op.f('fk_team_invitations_invited_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_team_invitations_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['app.teams.id'], name=op.f('fk_team_invitations_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_team_invitations')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_team_invitations_token_hash')),
    schema='app'
    )
    op.create_index(op.f('ix_team_invitations_organization_id'), 'team_invitations', ['organization_id'], unique=False, schema='app')
    op.create_index(op.f('ix_team_invitations_team_id'), 'team_invitations', ['team_id'], unique=False, schema='app')
    op.create_table('api_key_usage_daily',
    sa.Column('api_key_id', sa.UUID(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('request_count', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['app.api_keys.id'], name=op.f('fk_api_key_usage_daily_api_key_id_api_keys'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_api_key_usage_daily_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('api_key_id', 'day', name=op.f('pk_api_key_usage_daily')),
    schema='app'
    )
    op.create_index(op.f('ix_api_key_usage_daily_organization_id'), 'api_key_usage_daily', ['organization_id'], unique=False, schema='app')
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('actor_user_id', sa.UUID(), nullable=True),
    sa.Column('actor_api_key_id', sa.UUID(), nullable=True),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('entity_type', sa.Text(), nullable=False),
    sa.Column('entity_id', sa.Text(), nullable=True),
    sa.Column('changes', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('ip_address', sa.Text(), nullable=True),
    sa.Column('request_id', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['actor_api_key_id'], ['app.api_keys.id'], name=op.f('fk_audit_log_actor_api_key_id_api_keys'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['actor_user_id'], ['app.users.id'], name=op.f('fk_audit_log_actor_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_audit_log_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    schema='app'
    )
    op.create_index('ix_audit_log_entity', 'audit_log', ['entity_type', 'entity_id'], unique=False, schema='app')
    op.create_index('ix_audit_log_org_created', 'audit_log', ['organization_id', 'created_at'], unique=False, schema='app')
    op.create_table('company_profiles',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('account_id', sa.UUID(), nullable=True),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('domain', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('technologies', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('funding', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('news', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('buying_signals', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('research_data', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('research_quality_score', sa.Integer(), nullable=True),
    sa.Column('last_researched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('research_quality_score is null or (research_quality_score >= 0 and research_quality_score <= 100)', name=op.f('ck_company_profiles_research_quality_score_0_100')),
    sa.ForeignKeyConstraint(['account_id'], ['app.accounts.id'], name=op.f('fk_company_profiles_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_company_profiles_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company_profiles')),
    sa.UniqueConstraint('account_id', name=op.f('uq_company_profiles_account_id')),
    schema='app'
    )
    op.create_index(op.f('ix_company_profiles_organization_id'), 'company_profiles', ['organization_id'], unique=False, schema='app')
    op.create_table('deals',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('team_id', sa.UUID(), nullable=True),
    sa.Column('account_id', sa.UUID(), nullable=True),
    sa.Column('owner_id', sa.UUID(), nullable=True),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), server_default='0', nullable=False),
    sa.Column('currency', sa.Text(), server_default='USD', nullable=False),
    sa.Column('probability', sa.Integer(), server_default='10', nullable=False),
    sa.Column('stage', sa.Text(), server_default='discovery', nullable=False),
    sa.Column('forecast_category', sa.Text(), nullable=False),
    sa.Column('forecast_category_manual', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('close_date', sa.Date(), nullable=True),
    sa.Column('risk_score', sa.Integer(), nullable=True),
    sa.Column('ai_analysis', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('metadata', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('lost_reason', sa.Text(), nullable=True),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('stage_changed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("forecast_category in ('pipeline', 'best_case', 'commit', 'closed', 'omitted')", name=op.f('ck_deals_forecast_category_valid')),
    sa.CheckConstraint("stage in ('discovery', 'qualification', 'proposal', 'negotiation', 'closed_won', 'closed_lost')", name=op.f('ck_deals_stage_valid')),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_deals_amount_nonneg')),
    sa.CheckConstraint('probability >= 0 and probability <= 100', name=op.f('ck_deals_probability_0_100')),
    sa.CheckConstraint('risk_score is null or (risk_score >= 0 and risk_score <= 100)', name=op.f('ck_deals_risk_score_0_100')),
    sa.ForeignKeyConstraint(['account_id'], ['app.accounts.id'], name=op.f('fk_deals_account_id_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_deals_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['app.users.id'], name=op.f('fk_deals_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['app.teams.id'], name=op.f('fk_deals_team_id_teams'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deals')),
    schema='app'
    )
    op.create_index(op.f('ix_deals_account_id'), 'deals', ['account_id'], unique=False, schema='app')
    op.create_index('ix_deals_org_close_date', 'deals', ['organization_id', 'close_date'], unique=False, schema='app')
    op.create_index('ix_deals_org_stage', 'deals', ['organization_id', 'stage'], unique=False, schema='app')
    op.create_index('ix_deals_org_forecast', 'deals', ['organization_id', 'forecast_category'], unique=False, schema='app')
    op.create_index('ix_deals_org_amount', 'deals', ['organization_id', 'amount'], unique=False, schema='app')
    op.create_index(op.f('ix_deals_organization_id'), 'deals', ['organization_id'], unique=False, schema='app')
    op.create_index(op.f('ix_deals_owner_id'), 'deals', ['owner_id'], unique=False, schema='app')
    op.create_index(op.f('ix_deals_team_id'), 'deals', ['team_id'], unique=False, schema='app')
    op.create_table('prospects',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('team_id', sa.UUID(), nullable=True),
    sa.Column('account_id', sa.UUID(), nullable=True),
    sa.Column('owner_id', sa.UUID(), nullable=True),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('phone', sa.Text(), nullable=True),
    sa.Column('linkedin_url', sa.Text(), nullable=True),
    sa.Column('first_name', sa.Text(), nullable=True),
    sa.Column('last_name', sa.Text(), nullable=True),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('company', sa.Text(), nullable=True),
    sa.Column('department', sa.Text(), nullable=True),
    sa.Column('seniority', sa.Text(), nullable=True),
    sa.Column('city', sa.Text(), nullable=True),
    sa.Column('country', sa.Text(), nullable=True),
    sa.Column('timezone', sa.Text(), nullable=True),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), server_default='new', nullable=False),
    sa.Column('relationship_stage', sa.Text(), nullable=True),
    sa.Column('priority_score', sa.Integer(), nullable=True),
    sa.Column('intent_score', sa.Integer(), nullable=True),
    sa.Column('intent_tier', sa.Text(), nullable=True),
    sa.Column('qualification_score', sa.Integer(), nullable=True),
    sa.Column('bdr_assigned', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('enrichment_enabled', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('enrichment_data', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('ai_insights', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('custom_fields', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('last_contacted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("intent_tier is null or intent_tier in ('low', 'warm', 'hot', 'burning')", name=op.f('ck_prospects_intent_tier_valid')),
    sa.CheckConstraint("relationship_stage is null or relationship_stage in ('new', 'aware', 'engaged', 'qualified', 'opportunity', 'customer', 'churned')", name=op.f('ck_prospects_relationship_stage_valid')),
    sa.CheckConstraint("status in ('new', 'contacted', 'engaged', 'qualified', 'unqualified', 'nurture', 'converted', 'do_not_contact')", name=op.f('ck_prospects_status_valid')),
    sa.CheckConstraint('intent_score is null or (intent_score >= 0 and intent_score <= 100)', name=op.f('ck_prospects_intent_score_0_100')),
    sa.CheckConstraint('priority_score is null or (priority_score >= 0 and priority_score <= 100)', name=op.f('ck_prospects_priority_score_0_100')),
    sa.CheckConstraint('qualification_score is null or (qualification_score >= 0 and qualification_score <= 100)', name=op.f('ck_prospects_qualification_score_0_100')),
    sa.ForeignKeyConstraint(['account_id'], ['app.accounts.id'], name=op.f('fk_prospects_account_id_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_prospects_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['app.users.id'], name=op.f('fk_prospects_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['app.teams.id'], name=op.f('fk_prospects_team_id_teams'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prospects')),
    sa.UniqueConstraint('organization_id', 'email', name=op.f('uq_prospects_organization_id_email')),
    schema='app'
    )
    op.create_index(op.f('ix_prospects_account_id'), 'prospects', ['account_id'], unique=False, schema='app')
    op.create_index(op.f('ix_prospects_intent_tier'), 'prospects', ['intent_tier'], unique=False, schema='app')
    op.create_index('ix_prospects_org_company', 'prospects', ['organization_id', 'company'], unique=False, schema='app')
    op.create_index('ix_prospects_org_created', 'prospects', ['organization_id', 'created_at'], unique=False, schema='app')
    op.create_index('ix_prospects_org_intent', 'prospects', ['organization_id', 'intent_score'], unique=False, schema='app')
    op.create_index('ix_prospects_org_qualification', 'prospects', ['organization_id', 'qualification_score'], unique=False, schema='app')
    op.create_index('ix_prospects_org_priority', 'prospects', ['organization_id', 'priority_score'], unique=False, schema='app')
    op.create_index(op.f('ix_prospects_organization_id'), 'prospects', ['organization_id'], unique=False, schema='app')
    op.create_index(op.f('ix_prospects_owner_id'), 'prospects', ['owner_id'], unique=False, schema='app')
    op.create_index(op.f('ix_prospects_status'), 'prospects', ['status'], unique=False, schema='app')
    op.create_index(op.f('ix_prospects_team_id'), 'prospects', ['team_id'], unique=False, schema='app')
    op.create_table('activities',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('team_id', sa.UUID(), nullable=True),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('prospect_id', sa.UUID(), nullable=True),
    sa.Column('account_id', sa.UUID(), nullable=True),
    sa.Column('deal_id', sa.UUID(), nullable=True),
    sa.Column('type', sa.Text(), nullable=False),
    sa.Column('subject', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('metadata', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.CheckConstraint("type in ('email_sent', 'email_received', 'email_opened', 'email_clicked', 'email_bounced', 'email_unsubscribed', 'call_made', 'call_received', 'meeting_scheduled', 'meeting_completed', 'linkedin_interaction', 'sms_sent', 'note_added', 'status_change', 'task_completed')", name=op.f('ck_activities_type_valid')),
    sa.ForeignKeyConstraint(['account_id'], ['app.accounts.id'], name=op.f('fk_activities_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['deal_id'], ['app.deals.id'], name=op.f('fk_activities_deal_id_deals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_activities_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prospect_id'], ['app.prospects.id'], name=op.f('fk_activities_prospect_id_prospects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['app.teams.id'], name=op.f('fk_activities_team_id_teams'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name=op.f('fk_activities_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activities')),
    schema='app'
    )
    op.create_index('ix_activities_account_occurred', 'activities', ['account_id', 'occurred_at'], unique=False, schema='app')
    op.create_index('ix_activities_deal_occurred', 'activities', ['deal_id', 'occurred_at'], unique=False, schema='app')
    op.create_index('ix_activities_org_occurred', 'activities', ['organization_id', 'occurred_at'], unique=False, schema='app')
    op.create_index(op.f('ix_activities_organization_id'), 'activities', ['organization_id'], unique=False, schema='app')
    op.create_index('ix_activities_prospect_occurred', 'activities', ['prospect_id', 'occurred_at'], unique=False, schema='app')
    op.create_index(op.f('ix_activities_type'), 'activities', ['type'], unique=False, schema='app')
    op.create_index(op.f('ix_activities_user_id'), 'activities', ['user_id'], unique=False, schema='app')
    op.create_table('deal_contacts',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('deal_id', sa.UUID(), nullable=False),
    sa.Column('prospect_id', sa.UUID(), nullable=False),
    sa.Column('role', sa.Text(), nullable=True),
    sa.Column('is_primary', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.CheckConstraint("role is null or role in ('decision_maker', 'economic_buyer', 'champion', 'influencer', 'technical_buyer', 'end_user', 'blocker', 'other')", name=op.f('ck_deal_contacts_role_valid')),
    sa.ForeignKeyConstraint(['deal_id'], ['app.deals.id'], name=op.f('fk_deal_contacts_deal_id_deals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_deal_contacts_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prospect_id'], ['app.prospects.id'], name=op.f('fk_deal_contacts_prospect_id_prospects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deal_contacts')),
    sa.UniqueConstraint('deal_id', 'prospect_id', name=op.f('uq_deal_contacts_deal_id_prospect_id')),
    schema='app'
    )
    op.create_index(op.f('ix_deal_contacts_deal_id'), 'deal_contacts', ['deal_id'], unique=False, schema='app')
    op.create_index(op.f('ix_deal_contacts_organization_id'), 'deal_contacts', ['organization_id'], unique=False, schema='app')
    op.create_index(op.f('ix_deal_contacts_prospect_id'), 'deal_contacts', ['prospect_id'], unique=False, schema='app')
    op.create_table('call_logs',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('prospect_id', sa.UUID(), nullable=True),
    sa.Column('deal_id', sa.UUID(), nullable=True),
    sa.Column('activity_id', sa.UUID(), nullable=True),
    sa.Column('direction', sa.Text(), server_default='outbound', nullable=False),
    sa.Column('disposition', sa.Text(), nullable=False),
    sa.Column('duration_seconds', sa.Integer(), server_default='0', nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('phone_number', sa.Text(), nullable=True),
    sa.Column('called_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.CheckConstraint("direction in ('outbound', 'inbound')", name=op.f('ck_call_logs_direction_valid')),
    sa.CheckConstraint("disposition in ('answered', 'voicemail', 'no_answer', 'busy')", name=op.f('ck_call_logs_disposition_valid')),
    sa.CheckConstraint('duration_seconds >= 0', name=op.f('ck_call_logs_duration_nonneg')),
    sa.ForeignKeyConstraint(['activity_id'], ['app.activities.id'], name=op.f('fk_call_logs_activity_id_activities'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['deal_id'], ['app.deals.id'], name=op.f('fk_call_logs_deal_id_deals'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_call_logs_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prospect_id'], ['app.prospects.id'], name=op.f('fk_call_logs_prospect_id_prospects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name=op.f('fk_call_logs_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_logs')),
    schema='app'
    )
    op.create_index(op.f('ix_call_logs_deal_id'), 'call_logs', ['deal_id'], unique=False, schema='app')
    op.create_index('ix_call_logs_org_called', 'call_logs', ['organization_id', 'called_at'], unique=False, schema='app')
    op.create_index('ix_call_logs_org_disposition', 'call_logs', ['organization_id', 'disposition'], unique=False, schema='app')
    op.create_index(op.f('ix_call_logs_organization_id'), 'call_logs', ['organization_id'], unique=False, schema='app')
    op.create_index(op.f('ix_call_logs_prospect_id'), 'call_logs', ['prospect_id'], unique=False, schema='app')
    op.create_index(op.f('ix_call_logs_user_id'), 'call_logs', ['user_id'], unique=False, schema='app')
    op.execute(CURRENT_ORG_FUNCTION)
    for statement in schema_grants_sql("app", writable=True):
        op.execute(statement)
    # The audit log is append-only for the API.
    op.execute("revoke update, delete on app.audit_log from revorc_app")
    for table in TENANT_TABLES:
        for statement in tenant_policy_sql(table):
            op.execute(statement)
    for statement in tenant_policy_sql("organizations", column="id"):
        op.execute(statement)
    op.execute(AUTH_FUNCTIONS)


def downgrade() -> None:
    op.execute("drop function if exists app.authenticate_api_key(text)")
    op.execute("drop function if exists app.authenticate_user(text)")
    op.drop_index(op.f('ix_call_logs_user_id'), table_name='call_logs', schema='app')
    op.drop_index(op.f('ix_call_logs_prospect_id'), table_name='call_logs', schema='app')
    op.drop_index(op.f('ix_call_logs_organization_id'), table_name='call_logs', schema='app')
    op.drop_index('ix_call_logs_org_called', table_name='call_logs', schema='app')
    op.drop_index(op.f('ix_call_logs_deal_id'), table_name='call_logs', schema='app')
    op.drop_table('call_logs', schema='app')
    op.drop_index(op.f('ix_deal_contacts_prospect_id'), table_name='deal_contacts', schema='app')
    op.drop_index(op.f('ix_deal_contacts_organization_id'), table_name='deal_contacts', schema='app')
    op.drop_index(op.f('ix_deal_contacts_deal_id'), table_name='deal_contacts', schema='app')
    op.drop_table('deal_contacts', schema='app')
    op.drop_index(op.f('ix_activities_user_id'), table_name='activities', schema='app')
    op.drop_index(op.f('ix_activities_type'), table_name='activities', schema='app')
    op.drop_index('ix_activities_prospect_occurred', table_name='activities', schema='app')
    op.drop_index(op.f('ix_activities_organization_id'), table_name='activities', schema='app')
    op.drop_index('ix_activities_org_occurred', table_name='activities', schema='app')
    op.drop_index('ix_activities_deal_occurred', table_name='activities', schema='app')
    op.drop_index('ix_activities_account_occurred', table_name='activities', schema='app')
    op.drop_table('activities', schema='app')
    op.drop_index(op.f('ix_prospects_team_id'), table_name='prospects', schema='app')
    op.drop_index(op.f('ix_prospects_status'), table_name='prospects', schema='app')
    op.drop_index(op.f('ix_prospects_owner_id'), table_name='prospects', schema='app')
    op.drop_index(op.f('ix_prospects_organization_id'), table_name='prospects', schema='app')
    op.drop_index('ix_prospects_org_priority', table_name='prospects', schema='app')
    op.drop_index('ix_prospects_org_intent', table_name='prospects', schema='app')
    op.drop_index('ix_prospects_org_created', table_name='prospects', schema='app')
    op.drop_index('ix_prospects_org_company', table_name='prospects', schema='app')
    op.drop_index(op.f('ix_prospects_intent_tier'), table_name='prospects', schema='app')
    op.drop_index(op.f('ix_prospects_account_id'), table_name='prospects', schema='app')
    op.drop_table('prospects', schema='app')
    op.drop_index(op.f('ix_deals_team_id'), table_name='deals', schema='app')
    op.drop_index(op.f('ix_deals_owner_id'), table_name='deals', schema='app')
    op.drop_index(op.f('ix_deals_organization_id'), table_name='deals', schema='app')
    op.drop_index('ix_deals_org_stage', table_name='deals', schema='app')
    op.drop_index('ix_deals_org_close_date', table_name='deals', schema='app')
    op.drop_index(op.f('ix_deals_account_id'), table_name='deals', schema='app')
    op.drop_table('deals', schema='app')
    op.drop_index(op.f('ix_company_profiles_organization_id'), table_name='company_profiles', schema='app')
    op.drop_table('company_profiles', schema='app')
    op.drop_index('ix_audit_log_org_created', table_name='audit_log', schema='app')
    op.drop_index('ix_audit_log_entity', table_name='audit_log', schema='app')
    op.drop_table('audit_log', schema='app')
    op.drop_index(op.f('ix_api_key_usage_daily_organization_id'), table_name='api_key_usage_daily', schema='app')
    op.drop_table('api_key_usage_daily', schema='app')
    op.drop_index(op.f('ix_team_invitations_team_id'), table_name='team_invitations', schema='app')
    op.drop_index(op.f('ix_team_invitations_organization_id'), table_name='team_invitations', schema='app')
    op.drop_table('team_invitations', schema='app')
    op.drop_index(op.f('ix_profiles_organization_id'), table_name='profiles', schema='app')
    op.drop_table('profiles', schema='app')
    op.drop_index(op.f('ix_api_keys_user_id'), table_name='api_keys', schema='app')
    op.drop_index(op.f('ix_api_keys_prefix'), table_name='api_keys', schema='app')
    op.drop_index(op.f('ix_api_keys_organization_id'), table_name='api_keys', schema='app')
    op.drop_table('api_keys', schema='app')
    op.drop_index(op.f('ix_accounts_team_id'), table_name='accounts', schema='app')
    op.drop_index(op.f('ix_accounts_parent_account_id'), table_name='accounts', schema='app')
    op.drop_index(op.f('ix_accounts_owner_id'), table_name='accounts', schema='app')
    op.drop_index(op.f('ix_accounts_organization_id'), table_name='accounts', schema='app')
    op.drop_index('ix_accounts_org_name', table_name='accounts', schema='app')
    op.drop_index(op.f('ix_accounts_industry'), table_name='accounts', schema='app')
    op.drop_table('accounts', schema='app')
    op.drop_index(op.f('ix_users_team_id'), table_name='users', schema='app')
    op.drop_index(op.f('ix_users_organization_id'), table_name='users', schema='app')
    op.drop_table('users', schema='app')
    op.drop_index(op.f('ix_teams_organization_id'), table_name='teams', schema='app')
    op.drop_table('teams', schema='app')
    op.drop_table('organizations', schema='app')
    op.drop_index(op.f('ix_idempotency_keys_created_at'), table_name='idempotency_keys', schema='app')
    op.drop_table('idempotency_keys', schema='app')
    op.execute("drop function if exists app.current_org_id()")

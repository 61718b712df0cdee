"""Outreach: templates, emails and their events, suppression lists, mailboxes, bulk jobs, cadences,
tasks; lookup functions for unauthenticated endpoints; procrastinate's job queue schema.

Revision ID: 0003
Revises: 0002
"""
from collections.abc import Sequence
from importlib import resources

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from serving.core.rls import tenant_policy_sql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = [
    "email_templates", "mailboxes", "emails", "email_tracking_events", "email_unsubscribes", "email_blacklist",
    "email_bounces", "bulk_email_jobs", "bulk_email_recipients", "cadences", "cadence_steps",
    "cadence_step_variants", "cadence_enrollments", "cadence_step_runs", "tasks",
]

# Unauthenticated endpoints (inbound replies, provider webhooks) must find the organization of an
# email before a tenant can be set; these definer functions return only ids, nothing else.
LOOKUP_FUNCTIONS = """
create function app.locate_emails(p_message_ids text[], p_provider_id text)
returns table (id uuid, organization_id uuid)
language sql stable security definer set search_path = app, pg_temp as $$
  select e.id, e.organization_id from app.emails e
  where e.message_id = any(p_message_ids)
     or (p_provider_id is not null and e.sendgrid_message_id = p_provider_id)
$$;

-- The worker's periodic sweep: organizations with something due, so it never scans idle tenants.
create function app.outreach_due_organizations(p_now timestamptz)
returns setof uuid
language sql stable security definer set search_path = app, pg_temp as $$
  select organization_id from app.emails where status = 'queued' and send_at <= p_now
  union
  select organization_id from app.cadence_enrollments where status = 'active' and next_run_at <= p_now
  union
  select organization_id from app.bulk_email_jobs where status in ('pending', 'running') and send_at <= p_now
$$;

revoke all on function app.locate_emails(text[], text) from public;
revoke all on function app.outreach_due_organizations(timestamptz) from public;
grant execute on function app.locate_emails(text[], text) to revorc_app;
grant execute on function app.outreach_due_organizations(timestamptz) to revorc_app;
"""

QUEUE_SCHEMA = "procrastinate"


def _apply_procrastinate_schema() -> None:
    """procrastinate's own SQL, in a schema of its own; its functions pin their search_path."""
    schema_sql = (resources.files("procrastinate.sql") / "schema.sql").read_text(encoding="utf-8")
    op.execute(f"create schema if not exists {QUEUE_SCHEMA}")
    raw = op.get_bind().connection.driver_connection  # psycopg: no placeholder parsing without params
    raw.execute(f"set local search_path = {QUEUE_SCHEMA}, pg_catalog")
    raw.execute(schema_sql)
    raw.execute("reset search_path")
    op.execute(f"""
do $$ declare f record; begin
  for f in select p.oid::regprocedure as sig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
           where n.nspname = '{QUEUE_SCHEMA}' loop
    execute format('alter function %s set search_path = {QUEUE_SCHEMA}, pg_catalog', f.sig);
  end loop;
end $$""")
    for statement in (
        f"grant usage on schema {QUEUE_SCHEMA} to revorc_app",
        f"grant select, insert, update, delete on all tables in schema {QUEUE_SCHEMA} to revorc_app",
        f"grant usage, select on all sequences in schema {QUEUE_SCHEMA} to revorc_app",
        f"grant execute on all functions in schema {QUEUE_SCHEMA} to revorc_app",
        f"grant usage on schema {QUEUE_SCHEMA} to revorc_readonly",
        f"grant select on all tables in schema {QUEUE_SCHEMA} to revorc_readonly",
    ):
        op.execute(statement)


def upgrade() -> None:
    op.create_table('email_blacklist',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('details', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.CheckConstraint("reason in ('hard_bounce', 'spam_complaint', 'soft_bounce_limit', 'invalid', 'manual')", name=op.f('ck_email_blacklist_reason_valid')),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_email_blacklist_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_blacklist')),
    sa.UniqueConstraint('organization_id', 'email', name=op.f('uq_email_blacklist_organization_id_email')),
    schema='app'
    )
    op.create_index(op.f('ix_email_blacklist_organization_id'), 'email_blacklist', ['organization_id'], unique=False, schema='app')
    op.create_table('cadences',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('team_id', sa.UUID(), nullable=True),
    sa.Column('owner_id', sa.UUID(), nullable=True),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('settings', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_cadences_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['app.users.id'], name=op.f('fk_cadences_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['app.teams.id'], name=op.f('fk_cadences_team_id_teams'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cadences')),
    schema='app'
    )
    op.create_index(op.f('ix_cadences_is_active'), 'cadences', ['is_active'], unique=False, schema='app')
    op.create_index('ix_cadences_org_created', 'cadences', ['organization_id', 'created_at'], unique=False, schema='app')
    op.create_index(op.f('ix_cadences_organization_id'), 'cadences', ['organization_id'], unique=False, schema='app')
    op.create_index(op.f('ix_cadences_owner_id'), 'cadences', ['owner_id'], unique=False, schema='app')
    op.create_index(op.f('ix_cadences_team_id'), 'cadences', ['team_id'], unique=False, schema='app')
    op.create_table('email_templates',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('team_id', sa.UUID(), nullable=True),
    sa.Column('created_by', sa.UUID(), nullable=True),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('category', sa.Text(), nullable=True),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('variables', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('defaults', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['app.users.id'], name=op.f('fk_email_templates_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_email_templates_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['app.teams.id'], name=op.f('fk_email_templates_team_id_teams'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_templates')),
    sa.UniqueConstraint('organization_id', 'name', name=op.f('uq_email_templates_organization_id_name')),
    schema='app'
    )
    op.create_index('ix_email_templates_org_created', 'email_templates', ['organization_id', 'created_at'], unique=False, schema='app')
    op.create_index(op.f('ix_email_templates_organization_id'), 'email_templates', ['organization_id'], unique=False, schema='app')
    op.create_table('mailboxes',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('display_name', sa.Text(), nullable=True),
    sa.Column('daily_cap', sa.Integer(), server_default='200', nullable=False),
    sa.Column('warmup_enabled', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('warmup_started_on', sa.DateTime(timezone=True), nullable=True),
    sa.Column('warmup_start_cap', sa.Integer(), server_default='20', nullable=False),
    sa.Column('warmup_daily_increase', sa.Integer(), server_default='10', nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('daily_cap > 0', name=op.f('ck_mailboxes_daily_cap_positive')),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_mailboxes_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name=op.f('fk_mailboxes_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mailboxes')),
    sa.UniqueConstraint('organization_id', 'email', name=op.f('uq_mailboxes_organization_id_email')),
    schema='app'
    )
    op.create_index(op.f('ix_mailboxes_organization_id'), 'mailboxes', ['organization_id'], unique=False, schema='app')
    op.create_index(op.f('ix_mailboxes_user_id'), 'mailboxes', ['user_id'], unique=False, schema='app')
    op.create_table('bulk_email_jobs',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('mailbox_id', sa.UUID(), nullable=True),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('template_id', sa.UUID(), nullable=True),
    sa.Column('subject', sa.Text(), nullable=True),
    sa.Column('html', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('variables', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('campaign_id', sa.UUID(), nullable=True),
    sa.Column('track_opens', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('track_clicks', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('status', sa.Text(), server_default='pending', nullable=False),
    sa.Column('rate_per_minute', sa.Integer(), server_default='600', nullable=False),
    sa.Column('total', sa.Integer(), server_default='0', nullable=False),
    sa.Column('send_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status in ('pending', 'running', 'paused', 'completed', 'cancelled')", name=op.f('ck_bulk_email_jobs_status_valid')),
    sa.CheckConstraint('rate_per_minute > 0', name=op.f('ck_bulk_email_jobs_rate_positive')),
    sa.ForeignKeyConstraint(['mailbox_id'], ['app.mailboxes.id'], name=op.f('fk_bulk_email_jobs_mailbox_id_mailboxes'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_bulk_email_jobs_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['template_id'], ['app.email_templates.id'], name=op.f('fk_bulk_email_jobs_template_id_email_templates'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name=op.f('fk_bulk_email_jobs_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bulk_email_jobs')),
    schema='app'
    )
    op.create_index('ix_bulk_email_jobs_org_created', 'bulk_email_jobs', ['organization_id', 'created_at'], unique=False, schema='app')
    op.create_index(op.f('ix_bulk_email_jobs_organization_id'), 'bulk_email_jobs', ['organization_id'], unique=False, schema='app')
    op.create_table('cadence_steps',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('cadence_id', sa.UUID(), nullable=False),
    sa.Column('step_number', sa.Integer(), nullable=False),
    sa.Column('type', sa.Text(), nullable=False),
    sa.Column('delay_days', sa.Integer(), server_default='0', nullable=False),
    sa.Column('delay_hours', sa.Integer(), server_default='0', nullable=False),
    sa.Column('template_id', sa.UUID(), nullable=True),
    sa.Column('subject', sa.Text(), nullable=True),
    sa.Column('content', sa.Text(), nullable=True),
    sa.Column('conditions', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("type in ('email', 'call', 'linkedin', 'sms', 'task')", name=op.f('ck_cadence_steps_type_valid')),
    sa.CheckConstraint('delay_days >= 0 and delay_hours >= 0', name=op.f('ck_cadence_steps_delay_nonneg')),
    sa.CheckConstraint('step_number >= 1', name=op.f('ck_cadence_steps_step_number_positive')),
    sa.ForeignKeyConstraint(['cadence_id'], ['app.cadences.id'], name=op.f('fk_cadence_steps_cadence_id_cadences'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_cadence_steps_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['template_id'], ['app.email_templates.id'], name=op.f('fk_cadence_steps_template_id_email_templates'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cadence_steps')),
    sa.UniqueConstraint('cadence_id', 'step_number', name=op.f('uq_cadence_steps_cadence_id_step_number')),
    schema='app'
    )
    op.create_index(op.f('ix_cadence_steps_organization_id'), 'cadence_steps', ['organization_id'], unique=False, schema='app')
    op.create_table('cadence_enrollments',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('cadence_id', sa.UUID(), nullable=False),
    sa.Column('prospect_id', sa.UUID(), nullable=False),
    sa.Column('enrolled_by', sa.UUID(), nullable=True),
    sa.Column('status', sa.Text(), server_default='active', nullable=False),
    sa.Column('pause_reason', sa.Text(), nullable=True),
    sa.Column('next_step_number', sa.Integer(), nullable=True),
    sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_step_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('enrolled_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status in ('active', 'paused', 'completed', 'removed')", name=op.f('ck_cadence_enrollments_status_valid')),
    sa.ForeignKeyConstraint(['cadence_id'], ['app.cadences.id'], name=op.f('fk_cadence_enrollments_cadence_id_cadences'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['enrolled_by'], ['app.users.id'], name=op.f('fk_cadence_enrollments_enrolled_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_cadence_enrollments_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prospect_id'], ['app.prospects.id'], name=op.f('fk_cadence_enrollments_prospect_id_prospects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cadence_enrollments')),
    sa.UniqueConstraint('cadence_id', 'prospect_id', name=op.f('uq_cadence_enrollments_cadence_id_prospect_id')),
    schema='app'
    )
    op.create_index(op.f('ix_cadence_enrollments_cadence_id'), 'cadence_enrollments', ['cadence_id'], unique=False, schema='app')
    op.create_index('ix_cadence_enrollments_due', 'cadence_enrollments', ['next_run_at'], unique=False, schema='app', postgresql_where=sa.text("status = 'active'"))
    op.create_index('ix_cadence_enrollments_org_status', 'cadence_enrollments', ['organization_id', 'status'], unique=False, schema='app')
    op.create_index(op.f('ix_cadence_enrollments_organization_id'), 'cadence_enrollments', ['organization_id'], unique=False, schema='app')
    op.create_index(op.f('ix_cadence_enrollments_prospect_id'), 'cadence_enrollments', ['prospect_id'], unique=False, schema='app')
    op.create_table('cadence_step_variants',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('step_id', sa.UUID(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('weight', sa.Integer(), server_default='1', nullable=False),
    sa.Column('template_id', sa.UUID(), nullable=True),
    sa.Column('subject', sa.Text(), nullable=True),
    sa.Column('content', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.CheckConstraint('weight > 0', name=op.f('ck_cadence_step_variants_weight_positive')),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_cadence_step_variants_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['app.cadence_steps.id'], name=op.f('fk_cadence_step_variants_step_id_cadence_steps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['template_id'], ['app.email_templates.id'], name=op.f('fk_cadence_step_variants_template_id_email_templates'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cadence_step_variants')),
    sa.UniqueConstraint('step_id', 'name', name=op.f('uq_cadence_step_variants_step_id_name')),
    schema='app'
    )
    op.create_index(op.f('ix_cadence_step_variants_organization_id'), 'cadence_step_variants', ['organization_id'], unique=False, schema='app')
    op.create_index(op.f('ix_cadence_step_variants_step_id'), 'cadence_step_variants', ['step_id'], unique=False, schema='app')
    op.create_table('emails',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('team_id', sa.UUID(), nullable=True),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('mailbox_id', sa.UUID(), nullable=True),
    sa.Column('from_email', sa.Text(), nullable=False),
    sa.Column('from_name', sa.Text(), nullable=True),
    sa.Column('reply_to', sa.Text(), nullable=True),
    sa.Column('to', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('cc', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('bcc', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('template_id', sa.UUID(), nullable=True),
    sa.Column('variables', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('status', sa.Text(), server_default='queued', nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('track_opens', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('track_clicks', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('opened', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('clicked', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('bounced', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('replied', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('unsubscribed', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('open_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('click_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('first_opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_clicked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_clicked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('message_id', sa.Text(), nullable=False),
    sa.Column('sendgrid_message_id', sa.Text(), nullable=True),
    sa.Column('provider', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('prospect_id', sa.UUID(), nullable=True),
    sa.Column('deal_id', sa.UUID(), nullable=True),
    sa.Column('campaign_id', sa.UUID(), nullable=True),
    sa.Column('cadence_id', sa.UUID(), nullable=True),
    sa.Column('enrollment_id', sa.UUID(), nullable=True),
    sa.Column('step_id', sa.UUID(), nullable=True),
    sa.Column('variant_id', sa.UUID(), nullable=True),
    sa.Column('bulk_job_id', sa.UUID(), nullable=True),
    sa.Column('send_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status in ('queued', 'sending', 'sent', 'delivered', 'bounced', 'failed', 'suppressed', 'cancelled')", name=op.f('ck_emails_status_valid')),
    sa.ForeignKeyConstraint(['bulk_job_id'], ['app.bulk_email_jobs.id'], name=op.f('fk_emails_bulk_job_id_bulk_email_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['cadence_id'], ['app.cadences.id'], name=op.f('fk_emails_cadence_id_cadences'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['deal_id'], ['app.deals.id'], name=op.f('fk_emails_deal_id_deals'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enrollment_id'], ['app.cadence_enrollments.id'], name=op.f('fk_emails_enrollment_id_cadence_enrollments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['mailbox_id'], ['app.mailboxes.id'], name=op.f('fk_emails_mailbox_id_mailboxes'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_emails_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prospect_id'], ['app.prospects.id'], name=op.f('fk_emails_prospect_id_prospects'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['step_id'], ['app.cadence_steps.id'], name=op.f('fk_emails_step_id_cadence_steps'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['app.teams.id'], name=op.f('fk_emails_team_id_teams'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['template_id'], ['app.email_templates.id'], name=op.f('fk_emails_template_id_email_templates'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name=op.f('fk_emails_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['variant_id'], ['app.cadence_step_variants.id'], name=op.f('fk_emails_variant_id_cadence_step_variants'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emails')),
    sa.UniqueConstraint('enrollment_id', 'step_id', name=op.f('uq_emails_enrollment_id_step_id')),
    schema='app'
    )
    op.create_index('ix_emails_bulk_job', 'emails', ['bulk_job_id'], unique=False, schema='app')
    op.create_index(op.f('ix_emails_cadence_id'), 'emails', ['cadence_id'], unique=False, schema='app')
    op.create_index(op.f('ix_emails_campaign_id'), 'emails', ['campaign_id'], unique=False, schema='app')
    op.create_index(op.f('ix_emails_deal_id'), 'emails', ['deal_id'], unique=False, schema='app')
    op.create_index('ix_emails_due', 'emails', ['send_at'], unique=False, schema='app', postgresql_where=sa.text("status = 'queued'"))
    op.create_index('ix_emails_mailbox_sent', 'emails', ['mailbox_id', 'sent_at'], unique=False, schema='app')
    op.create_index('ix_emails_message_id', 'emails', ['message_id'], unique=True, schema='app')
    op.create_index('ix_emails_org_created', 'emails', ['organization_id', 'created_at'], unique=False, schema='app')
    op.create_index('ix_emails_org_status', 'emails', ['organization_id', 'status'], unique=False, schema='app')
    op.create_index(op.f('ix_emails_organization_id'), 'emails', ['organization_id'], unique=False, schema='app')
    op.create_index(op.f('ix_emails_prospect_id'), 'emails', ['prospect_id'], unique=False, schema='app')
    op.create_index('ix_emails_sendgrid_message_id', 'emails', ['sendgrid_message_id'], unique=False, schema='app')
    op.create_index(op.f('ix_emails_user_id'), 'emails', ['user_id'], unique=False, schema='app')
    op.create_table('tasks',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=True),
    sa.Column('prospect_id', sa.UUID(), nullable=True),
    sa.Column('cadence_id', sa.UUID(), nullable=True),
    sa.Column('enrollment_id', sa.UUID(), nullable=True),
    sa.Column('step_id', sa.UUID(), nullable=True),
    sa.Column('type', sa.Text(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Text(), server_default='pending', nullable=False),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("outcome is null or outcome in ('completed', 'connected', 'voicemail', 'no_answer', 'busy', 'wrong_number', 'meeting_booked', 'not_interested', 'sent', 'skipped')", name=op.f('ck_tasks_outcome_valid')),
    sa.CheckConstraint("status in ('pending', 'completed', 'skipped')", name=op.f('ck_tasks_status_valid')),
    sa.CheckConstraint("type in ('call', 'linkedin', 'sms', 'email', 'task')", name=op.f('ck_tasks_type_valid')),
    sa.ForeignKeyConstraint(['cadence_id'], ['app.cadences.id'], name=op.f('fk_tasks_cadence_id_cadences'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enrollment_id'], ['app.cadence_enrollments.id'], name=op.f('fk_tasks_enrollment_id_cadence_enrollments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_tasks_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prospect_id'], ['app.prospects.id'], name=op.f('fk_tasks_prospect_id_prospects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['app.cadence_steps.id'], name=op.f('fk_tasks_step_id_cadence_steps'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name=op.f('fk_tasks_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks')),
    schema='app'
    )
    op.create_index('ix_tasks_org_status_due', 'tasks', ['organization_id', 'status', 'due_at'], unique=False, schema='app')
    op.create_index(op.f('ix_tasks_organization_id'), 'tasks', ['organization_id'], unique=False, schema='app')
    op.create_index(op.f('ix_tasks_prospect_id'), 'tasks', ['prospect_id'], unique=False, schema='app')
    op.create_index('ix_tasks_queue', 'tasks', ['user_id', 'due_at'], unique=False, schema='app', postgresql_where=sa.text("status = 'pending'"))
    op.create_index(op.f('ix_tasks_user_id'), 'tasks', ['user_id'], unique=False, schema='app')
    op.create_table('bulk_email_recipients',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('job_id', sa.UUID(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('prospect_id', sa.UUID(), nullable=True),
    sa.Column('variables', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('status', sa.Text(), server_default='pending', nullable=False),
    sa.Column('email_id', sa.UUID(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.CheckConstraint("status in ('pending', 'queued', 'suppressed', 'skipped')", name=op.f('ck_bulk_email_recipients_status_valid')),
    sa.ForeignKeyConstraint(['email_id'], ['app.emails.id'], name=op.f('fk_bulk_email_recipients_email_id_emails'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['job_id'], ['app.bulk_email_jobs.id'], name=op.f('fk_bulk_email_recipients_job_id_bulk_email_jobs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_bulk_email_recipients_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prospect_id'], ['app.prospects.id'], name=op.f('fk_bulk_email_recipients_prospect_id_prospects'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bulk_email_recipients')),
    sa.UniqueConstraint('email_id', name=op.f('uq_bulk_email_recipients_email_id')),
    sa.UniqueConstraint('job_id', 'email', name=op.f('uq_bulk_email_recipients_job_id_email')),
    schema='app'
    )
    op.create_index(op.f('ix_bulk_email_recipients_organization_id'), 'bulk_email_recipients', ['organization_id'], unique=False, schema='app')
    op.create_index('ix_bulk_email_recipients_pending', 'bulk_email_recipients', ['job_id', 'position'], unique=False, schema='app', postgresql_where=sa.text("status = 'pending'"))
    op.create_table('cadence_step_runs',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('enrollment_id', sa.UUID(), nullable=False),
    sa.Column('step_id', sa.UUID(), nullable=False),
    sa.Column('variant_id', sa.UUID(), nullable=True),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('email_id', sa.UUID(), nullable=True),
    sa.Column('task_id', sa.UUID(), nullable=True),
    sa.Column('executed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.CheckConstraint("status in ('email_queued', 'task_created', 'sms_sent', 'skipped', 'suppressed')", name=op.f('ck_cadence_step_runs_status_valid')),
    sa.ForeignKeyConstraint(['email_id'], ['app.emails.id'], name=op.f('fk_cadence_step_runs_email_id_emails'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enrollment_id'], ['app.cadence_enrollments.id'], name=op.f('fk_cadence_step_runs_enrollment_id_cadence_enrollments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_cadence_step_runs_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['app.cadence_steps.id'], name=op.f('fk_cadence_step_runs_step_id_cadence_steps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['app.tasks.id'], name=op.f('fk_cadence_step_runs_task_id_tasks'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['variant_id'], ['app.cadence_step_variants.id'], name=op.f('fk_cadence_step_runs_variant_id_cadence_step_variants'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cadence_step_runs')),
    sa.UniqueConstraint('enrollment_id', 'step_id', name=op.f('uq_cadence_step_runs_enrollment_id_step_id')),
    schema='app'
    )
    op.create_index(op.f('ix_cadence_step_runs_organization_id'), 'cadence_step_runs', ['organization_id'], unique=False, schema='app')
    op.create_index('ix_cadence_step_runs_step', 'cadence_step_runs', ['step_id', 'variant_id'], unique=False, schema='app')
    op.create_table('email_bounces',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('email_id', sa.UUID(), nullable=True),
    sa.Column('bounce_type', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('status_code', sa.Text(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.CheckConstraint("bounce_type in ('hard', 'soft', 'spam')", name=op.f('ck_email_bounces_bounce_type_valid')),
    sa.ForeignKeyConstraint(['email_id'], ['app.emails.id'], name=op.f('fk_email_bounces_email_id_emails'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_email_bounces_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_bounces')),
    schema='app'
    )
    op.create_index('ix_email_bounces_org_email_time', 'email_bounces', ['organization_id', 'email', 'occurred_at'], unique=False, schema='app')
    op.create_index(op.f('ix_email_bounces_organization_id'), 'email_bounces', ['organization_id'], unique=False, schema='app')
    op.create_table('email_tracking_events',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('email_id', sa.UUID(), nullable=False),
    sa.Column('event', sa.Text(), nullable=False),
    sa.Column('event_key', sa.Text(), nullable=False),
    sa.Column('recipient', sa.Text(), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.CheckConstraint("event in ('processed', 'delivered', 'open', 'click', 'bounce', 'dropped', 'deferred', 'spamreport', 'unsubscribe', 'reply')", name=op.f('ck_email_tracking_events_event_valid')),
    sa.ForeignKeyConstraint(['email_id'], ['app.emails.id'], name=op.f('fk_email_tracking_events_email_id_emails'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_email_tracking_events_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_tracking_events')),
    sa.UniqueConstraint('event_key', name=op.f('uq_email_tracking_events_event_key')),
    schema='app'
    )
    op.create_index('ix_email_tracking_events_email', 'email_tracking_events', ['email_id', 'occurred_at'], unique=False, schema='app')
    op.create_index('ix_email_tracking_events_org_time', 'email_tracking_events', ['organization_id', 'occurred_at'], unique=False, schema='app')
    op.create_index(op.f('ix_email_tracking_events_organization_id'), 'email_tracking_events', ['organization_id'], unique=False, schema='app')
    op.create_table('email_unsubscribes',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('prospect_id', sa.UUID(), nullable=True),
    sa.Column('email_id', sa.UUID(), nullable=True),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.ForeignKeyConstraint(['email_id'], ['app.emails.id'], name=op.f('fk_email_unsubscribes_email_id_emails'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_email_unsubscribes_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prospect_id'], ['app.prospects.id'], name=op.f('fk_email_unsubscribes_prospect_id_prospects'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_unsubscribes')),
    sa.UniqueConstraint('organization_id', 'email', name=op.f('uq_email_unsubscribes_organization_id_email')),
    schema='app'
    )
    op.create_index(op.f('ix_email_unsubscribes_organization_id'), 'email_unsubscribes', ['organization_id'], unique=False, schema='app')
    for table in TENANT_TABLES:
        for statement in tenant_policy_sql(table):
            op.execute(statement)
    op.execute(LOOKUP_FUNCTIONS)
    _apply_procrastinate_schema()


def downgrade() -> None:
    op.execute(f"drop schema if exists {QUEUE_SCHEMA} cascade")
    op.execute("drop function if exists app.outreach_due_organizations(timestamptz)")
    op.execute("drop function if exists app.locate_emails(text[], text)")
    op.drop_index(op.f('ix_email_unsubscribes_organization_id'), table_name='email_unsubscribes', schema='app')
    op.drop_table('email_unsubscribes', schema='app')
    op.drop_index(op.f('ix_email_tracking_events_organization_id'), table_name='email_tracking_events', schema='app')
    op.drop_index('ix_email_tracking_events_org_time', table_name='email_tracking_events', schema='app')
    op.drop_index('ix_email_tracking_events_email', table_name='email_tracking_events', schema='app')
    op.drop_table('email_tracking_events', schema='app')
    op.drop_index(op.f('ix_email_bounces_organization_id'), table_name='email_bounces', schema='app')
    op.drop_index('ix_email_bounces_org_email_time', table_name='email_bounces', schema='app')
    op.drop_table('email_bounces', schema='app')
    op.drop_index('ix_cadence_step_runs_step', table_name='cadence_step_runs', schema='app')
    op.drop_index(op.f('ix_cadence_step_runs_organization_id'), table_name='cadence_step_runs', schema='app')
    op.drop_table('cadence_step_runs', schema='app')
    op.drop_index('ix_bulk_email_recipients_pending', table_name='bulk_email_recipients', schema='app', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index(op.f('ix_bulk_email_recipients_organization_id'), table_name='bulk_email_recipients', schema='app')
    op.drop_table('bulk_email_recipients', schema='app')
    op.drop_index(op.f('ix_tasks_user_id'), table_name='tasks', schema='app')
    op.drop_index('ix_tasks_queue', table_name='tasks', schema='app', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index(op.f('ix_tasks_prospect_id'), table_name='tasks', schema='app')
    op.drop_index(op.f('ix_tasks_organization_id'), table_name='tasks', schema='app')
    op.drop_index('ix_tasks_org_status_due', table_name='tasks', schema='app')
    op.drop_table('tasks', schema='app')
    op.drop_index(op.f('ix_emails_user_id'), table_name='emails', schema='app')
    op.drop_index('ix_emails_sendgrid_message_id', table_name='emails', schema='app')
    op.drop_index(op.f('ix_emails_prospect_id'), table_name='emails', schema='app')
    op.drop_index(op.f('ix_emails_organization_id'), table_name='emails', schema='app')
    op.drop_index('ix_emails_org_status', table_name='emails', schema='app')
    op.drop_index('ix_emails_org_created', table_name='emails', schema='app')
    op.drop_index('ix_emails_message_id', table_name='emails', schema='app')
    op.drop_index('ix_emails_mailbox_sent', table_name='emails', schema='app')
    op.drop_index('ix_emails_due', table_name='emails', schema='app', postgresql_where=sa.text("status = 'queued'"))
    op.drop_index(op.f('ix_emails_deal_id'), table_name='emails', schema='app')
    op.drop_index(op.f('ix_emails_campaign_id'), table_name='emails', schema='app')
    op.drop_index(op.f('ix_emails_cadence_id'), table_name='emails', schema='app')
    op.drop_index('ix_emails_bulk_job', table_name='emails', schema='app')
    op.drop_table('emails', schema='app')
    op.drop_index(op.f('ix_cadence_step_variants_step_id'), table_name='cadence_step_variants', schema='app')
    op.drop_index(op.f('ix_cadence_step_variants_organization_id'), table_name='cadence_step_variants', schema='app')
    op.drop_table('cadence_step_variants', schema='app')
    op.drop_index(op.f('ix_cadence_enrollments_prospect_id'), table_name='cadence_enrollments', schema='app')
    op.drop_index(op.f('ix_cadence_enrollments_organization_id'), table_name='cadence_enrollments', schema='app')
    op.drop_index('ix_cadence_enrollments_org_status', table_name='cadence_enrollments', schema='app')
    op.drop_index('ix_cadence_enrollments_due', table_name='cadence_enrollments', schema='app', postgresql_where=sa.text("status = 'active'"))
    op.drop_index(op.f('ix_cadence_enrollments_cadence_id'), table_name='cadence_enrollments', schema='app')
    op.drop_table('cadence_enrollments', schema='app')
    op.drop_index(op.f('ix_cadence_steps_organization_id'), table_name='cadence_steps', schema='app')
    op.drop_table('cadence_steps', schema='app')
    op.drop_index(op.f('ix_bulk_email_jobs_organization_id'), table_name='bulk_email_jobs', schema='app')
    op.drop_index('ix_bulk_email_jobs_org_created', table_name='bulk_email_jobs', schema='app')
    op.drop_table('bulk_email_jobs', schema='app')
    op.drop_index(op.f('ix_mailboxes_user_id'), table_name='mailboxes', schema='app')
    op.drop_index(op.f('ix_mailboxes_organization_id'), table_name='mailboxes', schema='app')
    op.drop_table('mailboxes', schema='app')
    op.drop_index(op.f('ix_email_templates_organization_id'), table_name='email_templates', schema='app')
    op.drop_index('ix_email_templates_org_created', table_name='email_templates', schema='app')
    op.drop_table('email_templates', schema='app')
    op.drop_index(op.f('ix_cadences_team_id'), table_name='cadences', schema='app')
    op.drop_index(op.f('ix_cadences_owner_id'), table_name='cadences', schema='app')
    op.drop_index(op.f('ix_cadences_organization_id'), table_name='cadences', schema='app')
    op.drop_index('ix_cadences_org_created', table_name='cadences', schema='app')
    op.drop_index(op.f('ix_cadences_is_active'), table_name='cadences', schema='app')
    op.drop_table('cadences', schema='app')
    op.drop_index(op.f('ix_email_blacklist_organization_id'), table_name='email_blacklist', schema='app')
    op.drop_table('email_blacklist', schema='app')

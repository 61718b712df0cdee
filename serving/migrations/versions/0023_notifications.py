"""Notifications (seed 8.1, issue 17): the notification record grows archive, snooze, collapsing (group key and
count), an action URL and its source event; per-user preferences, per-channel deliveries, e-mail digest batches,
Web Push subscriptions and presence; row-level security on all six; the seed's three database functions; and the
definer function the worker's sweep uses to find organizations with deliveries due.

Revision ID: 0023
Revises: 0022
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from serving.core.config import APP_ROLE
from serving.core.rls import tenant_policy_sql

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_TABLES = ("notification_preferences", "notification_batches", "notification_deliveries", "push_subscriptions",
              "user_presence")

# The seed's maintenance functions run from the worker for every organization at once: definer functions (the
# sweep has no tenant), each with `p_now` so a test can pin the clock. Each API process LISTENs on
# `notifications`; what is sent there is ids only (organization, user, notification), never content, and every
# process re-reads the row under the user's own tenant before a socket sees it.
FUNCTIONS = f"""
create function app.auto_archive_notifications(p_now timestamptz default now(), p_read_days integer default 30)
returns integer language sql volatile security definer set search_path = app, pg_temp as $$
  with archived as (
    update app.notifications set archived_at = p_now, updated_at = p_now
    where archived_at is null and read_at is not null and read_at < p_now - make_interval(days => p_read_days)
    returning 1)
  select count(*)::integer from archived
$$;

create function app.cleanup_expired_notifications(p_now timestamptz default now(),
                                                  p_archived_days integer default 90)
returns integer language sql volatile security definer set search_path = app, pg_temp as $$
  with gone as (
    delete from app.notifications
    where expires_at <= p_now
       or (archived_at is not null and archived_at < p_now - make_interval(days => p_archived_days))
    returning 1)
  select count(*)::integer from gone
$$;

create function app.unsnooze_notifications(p_now timestamptz default now())
returns integer language plpgsql volatile security definer set search_path = app, pg_temp as $$
declare
  n integer := 0;
  r record;
begin
  for r in update app.notifications set snoozed_until = null, updated_at = p_now
           where snoozed_until is not null and snoozed_until <= p_now
           returning id, organization_id, user_id loop
    -- back in the user's list: tell their open sockets (ids only)
    perform pg_notify('notifications', json_build_object(
      'o', r.organization_id, 'u', r.user_id, 'n', r.id, 'k', 'notification')::text);
    n := n + 1;
  end loop;
  return n;
end
$$;

create function app.notifications_due_organizations(p_now timestamptz)
returns setof uuid language sql stable security definer set search_path = app, pg_temp as $$
  select distinct organization_id from app.notification_deliveries
  where status = 'batched' or (status = 'pending' and (scheduled_for is null or scheduled_for <= p_now))
$$;

revoke all on function app.auto_archive_notifications(timestamptz, integer) from public;
revoke all on function app.cleanup_expired_notifications(timestamptz, integer) from public;
revoke all on function app.unsnooze_notifications(timestamptz) from public;
revoke all on function app.notifications_due_organizations(timestamptz) from public;
grant execute on function app.auto_archive_notifications(timestamptz, integer) to {APP_ROLE};
grant execute on function app.cleanup_expired_notifications(timestamptz, integer) to {APP_ROLE};
grant execute on function app.unsnooze_notifications(timestamptz) to {APP_ROLE};
grant execute on function app.notifications_due_organizations(timestamptz) to {APP_ROLE};
"""


def upgrade() -> None:
    op.create_table('notification_batches',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('frequency', sa.Text(), nullable=False),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('notification_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.CheckConstraint("frequency in ('instant', 'hourly', 'daily', 'weekly')", name=op.f('ck_notification_batches_frequency_valid')),
    sa.CheckConstraint("status in ('sent', 'failed')", name=op.f('ck_notification_batches_status_valid')),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_notification_batches_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name=op.f('fk_notification_batches_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_batches')),
    sa.UniqueConstraint('user_id', 'frequency', 'period_end', name=op.f('uq_notification_batches_user_id_frequency_period_end')),
    schema='app'
    )
    op.create_index(op.f('ix_notification_batches_organization_id'), 'notification_batches', ['organization_id'], unique=False, schema='app')
    op.create_table('notification_preferences',
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('channels', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('event_overrides', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('timezone', sa.Text(), server_default='UTC', nullable=False),
    sa.Column('urgent_overrides_quiet_hours', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_notification_preferences_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name=op.f('fk_notification_preferences_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_notification_preferences')),
    schema='app'
    )
    op.create_index(op.f('ix_notification_preferences_organization_id'), 'notification_preferences', ['organization_id'], unique=False, schema='app')
    op.create_table('push_subscriptions',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('endpoint', sa.Text(), nullable=False),
    sa.Column('p256dh', sa.Text(), nullable=False),
    sa.Column('auth', sa.Text(), nullable=False),
    sa.Column('device', sa.Text(), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_push_subscriptions_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name=op.f('fk_push_subscriptions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_subscriptions')),
    sa.UniqueConstraint('user_id', 'endpoint', name=op.f('uq_push_subscriptions_user_id_endpoint')),
    schema='app'
    )
    op.create_index(op.f('ix_push_subscriptions_organization_id'), 'push_subscriptions', ['organization_id'], unique=False, schema='app')
    op.create_table('user_presence',
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('status', sa.Text(), server_default='offline', nullable=False),
    sa.Column('connection_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status in ('online', 'away', 'offline')", name=op.f('ck_user_presence_status_valid')),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_user_presence_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name=op.f('fk_user_presence_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_user_presence')),
    schema='app'
    )
    op.create_index(op.f('ix_user_presence_organization_id'), 'user_presence', ['organization_id'], unique=False, schema='app')
    op.create_table('notification_deliveries',
    sa.Column('organization_id', sa.UUID(), nullable=False),
    sa.Column('notification_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.UUID(), nullable=False),
    sa.Column('channel', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=True),
    sa.Column('batch_id', sa.UUID(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.UUID(), nullable=False),
    sa.CheckConstraint("channel in ('email', 'push', 'sms')", name=op.f('ck_notification_deliveries_channel_valid')),
    sa.CheckConstraint("status in ('pending', 'batched', 'sent', 'failed', 'skipped')", name=op.f('ck_notification_deliveries_status_valid')),
    sa.ForeignKeyConstraint(['batch_id'], ['app.notification_batches.id'], name=op.f('fk_notification_deliveries_batch_id_notification_batches'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['notification_id'], ['app.notifications.id'], name=op.f('fk_notification_deliveries_notification_id_notifications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['app.organizations.id'], name=op.f('fk_notification_deliveries_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app.users.id'], name=op.f('fk_notification_deliveries_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_deliveries')),
    sa.UniqueConstraint('notification_id', 'channel', name=op.f('uq_notification_deliveries_notification_id_channel')),
    schema='app'
    )
    op.create_index(op.f('ix_notification_deliveries_batch_id'), 'notification_deliveries', ['batch_id'], unique=False, schema='app')
    op.create_index('ix_notification_deliveries_batched', 'notification_deliveries', ['user_id'], unique=False, schema='app', postgresql_where=sa.text("status = 'batched'"))
    op.create_index(op.f('ix_notification_deliveries_organization_id'), 'notification_deliveries', ['organization_id'], unique=False, schema='app')
    op.add_column('notifications', sa.Column('action_url', sa.Text(), nullable=True), schema='app')
    op.add_column('notifications', sa.Column('group_key', sa.Text(), nullable=True), schema='app')
    op.add_column('notifications', sa.Column('count', sa.Integer(), server_default='1', nullable=False), schema='app')
    op.add_column('notifications', sa.Column('source_event_id', sa.UUID(), nullable=True), schema='app')
    op.add_column('notifications', sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True), schema='app')
    op.add_column('notifications', sa.Column('snoozed_until', sa.DateTime(timezone=True), nullable=True), schema='app')
    op.add_column('notifications', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True), schema='app')
    op.add_column('notifications', sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False), schema='app')
    op.create_index('ix_notifications_user_group', 'notifications', ['user_id', 'group_key', 'updated_at'], unique=False, schema='app', postgresql_where='group_key is not null and archived_at is null')
    for table in NEW_TABLES:
        for statement in tenant_policy_sql(table):
            op.execute(statement)
    op.execute(FUNCTIONS)


def downgrade() -> None:
    op.execute("drop function app.notifications_due_organizations(timestamptz)")
    op.execute("drop function app.unsnooze_notifications(timestamptz)")
    op.execute("drop function app.cleanup_expired_notifications(timestamptz, integer)")
    op.execute("drop function app.auto_archive_notifications(timestamptz, integer)")
    op.drop_index('ix_notifications_user_group', table_name='notifications', schema='app', postgresql_where='group_key is not null and archived_at is null')
    op.drop_column('notifications', 'updated_at', schema='app')
    op.drop_column('notifications', 'expires_at', schema='app')
    op.drop_column('notifications', 'snoozed_until', schema='app')
    op.drop_column('notifications', 'archived_at', schema='app')
    op.drop_column('notifications', 'source_event_id', schema='app')
    op.drop_column('notifications', 'count', schema='app')
    op.drop_column('notifications', 'group_key', schema='app')
    op.drop_column('notifications', 'action_url', schema='app')
    op.drop_index(op.f('ix_notification_deliveries_organization_id'), table_name='notification_deliveries', schema='app')
    op.drop_index('ix_notification_deliveries_batched', table_name='notification_deliveries', schema='app', postgresql_where=sa.text("status = 'batched'"))
    op.drop_index(op.f('ix_notification_deliveries_batch_id'), table_name='notification_deliveries', schema='app')
    op.drop_table('notification_deliveries', schema='app')
    op.drop_index(op.f('ix_user_presence_organization_id'), table_name='user_presence', schema='app')
    op.drop_table('user_presence', schema='app')
    op.drop_index(op.f('ix_push_subscriptions_organization_id'), table_name='push_subscriptions', schema='app')
    op.drop_table('push_subscriptions', schema='app')
    op.drop_index(op.f('ix_notification_preferences_organization_id'), table_name='notification_preferences', schema='app')
    op.drop_table('notification_preferences', schema='app')
    op.drop_index(op.f('ix_notification_batches_organization_id'), table_name='notification_batches', schema='app')
    op.drop_table('notification_batches', schema='app')

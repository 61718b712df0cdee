"""Universal search: the sync queue and the triggers that fill it, reindex jobs, analytics, clicks, popular and
saved searches.

The triggers are statement-level with transition tables, so a 100k-row import or reverse-ETL update queues its
records with one INSERT … SELECT, not one per row. They run as the owner (security definer) so that a write by a
pipeline, which binds no tenant, still queues its rows; the wake-up is a job per organization whose queueing lock
coalesces it with any job already waiting.

Revision ID: 0015
Revises: 0010
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from serving.core.config import APP_ROLE
from serving.core.queue import QUEUE, QUEUE_SCHEMA
from serving.core.rls import tenant_policy_sql

revision: str = "0015"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table → the entity its rows index as
SEARCHABLE = {"prospects": "prospects", "accounts": "accounts", "deals": "deals", "emails": "emails"}

FUNCTIONS = f"""
create function app.search_sync_wake(p_orgs uuid[]) returns void
language plpgsql security definer set search_path = app, pg_temp as $$
begin
  -- the queue is absent only in databases that never run the worker (a bare schema for dbt tests)
  if to_regclass('{QUEUE_SCHEMA}.procrastinate_jobs') is null then
    return;
  end if;
  insert into {QUEUE_SCHEMA}.procrastinate_jobs (queue_name, task_name, priority, lock, queueing_lock, args)
  select '{QUEUE}', 'search.sync', 0, null, 'search:' || o::text, jsonb_build_object('organization_id', o::text)
  from unnest(p_orgs) as o
  on conflict (queueing_lock) where status = 'todo' do nothing;
end $$;

create function app.search_sync_enqueue() returns trigger
language plpgsql security definer set search_path = app, pg_temp as $$
declare
  orgs uuid[];
begin
  if tg_op = 'DELETE' then
    with changed as (
      insert into app.search_sync_queue as q (organization_id, entity, record_id)
      select distinct organization_id, tg_argv[0], id from old_rows
      on conflict (organization_id, entity, record_id)
        do update set queued_at = clock_timestamp(), indexed_at = null, attempts = 0, last_error = null
      returning organization_id)
    select array_agg(distinct organization_id) into orgs from changed;
  else
    with changed as (
      insert into app.search_sync_queue as q (organization_id, entity, record_id)
      select distinct organization_id, tg_argv[0], id from new_rows
      on conflict (organization_id, entity, record_id)
        do update set queued_at = clock_timestamp(), indexed_at = null, attempts = 0, last_error = null
      returning organization_id)
    select array_agg(distinct organization_id) into orgs from changed;
  end if;
  if orgs is not null then
    perform app.search_sync_wake(orgs);
  end if;
  return null;
end $$;

-- An account's name and industry are copied into its prospects' and deals' documents.
create function app.search_sync_account_dependents() returns trigger
language plpgsql security definer set search_path = app, pg_temp as $$
declare
  orgs uuid[];
begin
  with renamed as (
    select n.id from new_rows n join old_rows o on o.id = n.id
    where (n.name, n.industry) is distinct from (o.name, o.industry)
  ), dependents as (
    select p.organization_id, 'prospects' as entity, p.id from app.prospects p join renamed r on p.account_id = r.id
    union all
    select d.organization_id, 'deals', d.id from app.deals d join renamed r on d.account_id = r.id
  ), changed as (
    insert into app.search_sync_queue (organization_id, entity, record_id)
    select organization_id, entity, id from dependents
    on conflict (organization_id, entity, record_id)
      do update set queued_at = clock_timestamp(), indexed_at = null, attempts = 0, last_error = null
    returning organization_id)
  select array_agg(distinct organization_id) into orgs from changed;
  if orgs is not null then
    perform app.search_sync_wake(orgs);
  end if;
  return null;
end $$;

-- A deleted organization's documents go as one delete-by-filter per collection.
create function app.search_sync_organization_deleted() returns trigger
language plpgsql security definer set search_path = app, pg_temp as $$
begin
  insert into app.search_sync_queue (organization_id, entity, record_id)
  select id, 'organization', id from old_rows
  on conflict (organization_id, entity, record_id) do update set queued_at = clock_timestamp(), indexed_at = null;
  perform app.search_sync_wake(array(select id from old_rows));
  return null;
end $$;

-- The worker's sweep binds no tenant: organization ids with pending index work, nothing else.
create function app.search_sync_due_organizations() returns setof uuid
language sql stable security definer set search_path = app, pg_temp as $$
  select distinct organization_id from app.search_sync_queue where indexed_at is null
$$;
revoke all on function app.search_sync_due_organizations() from public;
grant execute on function app.search_sync_due_organizations() to {APP_ROLE};
revoke all on function app.search_sync_wake(uuid[]) from public;
"""


def _triggers() -> list[str]:
    statements = []
    for table, entity in SEARCHABLE.items():
        statements += [
            f"create trigger search_sync_insert after insert on app.{table} referencing new table as new_rows "
            f"for each statement execute function app.search_sync_enqueue('{entity}')",
            f"create trigger search_sync_update after update on app.{table} referencing new table as new_rows "
            f"for each statement execute function app.search_sync_enqueue('{entity}')",
            f"create trigger search_sync_delete after delete on app.{table} referencing old table as old_rows "
            f"for each statement execute function app.search_sync_enqueue('{entity}')",
        ]
    statements += [
        "create trigger search_sync_dependents after update on app.accounts "
        "referencing old table as old_rows new table as new_rows "
        "for each statement execute function app.search_sync_account_dependents()",
        "create trigger search_sync_organization after delete on app.organizations referencing old table as old_rows "
        "for each statement execute function app.search_sync_organization_deleted()",
    ]
    return statements


def upgrade() -> None:
    op.create_table(
        "search_sync_queue",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("record_id", sa.UUID(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), server_default=sa.text("clock_timestamp()"),
                  nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("organization_id", "entity", "record_id", name=op.f("pk_search_sync_queue")),
        schema="app",
    )
    op.create_index("ix_search_sync_queue_pending", "search_sync_queue", ["organization_id", "queued_at"],
                    unique=False, schema="app", postgresql_where="indexed_at is null")
    op.create_table(
        "search_indexing_jobs",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("collection", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="running", nullable=False),
        sa.Column("snapshot_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("documents", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rejected", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status in ('running', 'succeeded', 'failed')",
                           name=op.f("ck_search_indexing_jobs_status_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_indexing_jobs")),
        schema="app",
    )
    op.create_table(
        "search_analytics",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("api_key_id", sa.UUID(), nullable=True),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("normalized_query", sa.Text(), nullable=False),
        sa.Column("types", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("filters", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("understood", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("result_count", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["app.organizations.id"],
                                name=op.f("fk_search_analytics_organization_id_organizations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["app.users.id"], name=op.f("fk_search_analytics_user_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_analytics")),
        schema="app",
    )
    op.create_index("ix_search_analytics_org_created", "search_analytics", ["organization_id", "created_at"],
                    unique=False, schema="app")
    op.create_table(
        "search_clicks",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("search_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("record_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["app.organizations.id"],
                                name=op.f("fk_search_clicks_organization_id_organizations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["search_id"], ["app.search_analytics.id"],
                                name=op.f("fk_search_clicks_search_id_search_analytics"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["app.users.id"], name=op.f("fk_search_clicks_user_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_clicks")),
        schema="app",
    )
    op.create_index(op.f("ix_search_clicks_organization_id"), "search_clicks", ["organization_id"], unique=False,
                    schema="app")
    op.create_index(op.f("ix_search_clicks_search_id"), "search_clicks", ["search_id"], unique=False, schema="app")
    op.create_table(
        "search_popular_queries",
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("normalized_query", sa.Text(), nullable=False),
        sa.Column("search_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("result_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_searched_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["app.organizations.id"],
                                name=op.f("fk_search_popular_queries_organization_id_organizations"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("organization_id", "normalized_query", name=op.f("pk_search_popular_queries")),
        schema="app",
    )
    op.create_index("ix_search_popular_queries_rank", "search_popular_queries", ["organization_id", "search_count"],
                    unique=False, schema="app")
    op.create_table(
        "saved_searches",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("organization_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("types", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("filters", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["app.organizations.id"],
                                name=op.f("fk_saved_searches_organization_id_organizations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["app.users.id"], name=op.f("fk_saved_searches_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_searches")),
        schema="app",
    )
    op.create_index("ix_saved_searches_user", "saved_searches", ["organization_id", "user_id"], unique=False,
                    schema="app")
    for table in ("search_sync_queue", "search_analytics", "search_clicks", "search_popular_queries",
                  "saved_searches"):
        for statement in tenant_policy_sql(table):
            op.execute(statement)
    op.execute(FUNCTIONS)
    for statement in _triggers():
        op.execute(statement)
    # Everything that exists before search did is queued once, so the first drain indexes it.
    for table, entity in SEARCHABLE.items():
        op.execute(f"insert into app.search_sync_queue (organization_id, entity, record_id) "
                   f"select organization_id, '{entity}', id from app.{table} on conflict do nothing")


def downgrade() -> None:
    for table in SEARCHABLE:
        for operation in ("insert", "update", "delete"):
            op.execute(f"drop trigger if exists search_sync_{operation} on app.{table}")
    op.execute("drop trigger if exists search_sync_dependents on app.accounts")
    op.execute("drop trigger if exists search_sync_organization on app.organizations")
    for function in ("search_sync_enqueue()", "search_sync_account_dependents()",
                     "search_sync_organization_deleted()", "search_sync_due_organizations()",
                     "search_sync_wake(uuid[])"):
        op.execute(f"drop function if exists app.{function}")
    for table in ("saved_searches", "search_popular_queries", "search_clicks", "search_analytics",
                  "search_indexing_jobs", "search_sync_queue"):
        op.drop_table(table, schema="app")

"""SQL for tenant isolation, used by migrations: row-level security and role grants.

Every tenant table gets one policy comparing `organization_id` with the transaction's
`app.organization_id` setting; no setting means no rows (fail closed).
"""

from __future__ import annotations

from serving.core.config import APP_ROLE, READONLY_ROLE

CURRENT_ORG_FUNCTION = """
create or replace function app.current_org_id() returns uuid
language sql stable as $$ select nullif(current_setting('app.organization_id', true), '')::uuid $$
"""


def create_roles_sql() -> str:
    return f"""
do $$ begin
  if not exists (select 1 from pg_roles where rolname = '{APP_ROLE}') then
    create role {APP_ROLE} login;
  end if;
  if not exists (select 1 from pg_roles where rolname = '{READONLY_ROLE}') then
    create role {READONLY_ROLE} login;
  end if;
end $$
"""


def schema_grants_sql(schema: str, *, writable: bool) -> list[str]:
    """The API role reads (and, for `app`, writes) tables; the read-only role only reads."""
    statements = [f"grant usage on schema {schema} to {APP_ROLE}, {READONLY_ROLE}"]
    privileges = "select, insert, update, delete" if writable else "select"
    statements += [
        f"grant {privileges} on all tables in schema {schema} to {APP_ROLE}",
        f"grant select on all tables in schema {schema} to {READONLY_ROLE}",
        f"alter default privileges in schema {schema} grant {privileges} on tables to {APP_ROLE}",
        f"alter default privileges in schema {schema} grant select on tables to {READONLY_ROLE}",
    ]
    if writable:
        statements += [
            f"grant usage, select on all sequences in schema {schema} to {APP_ROLE}",
            f"alter default privileges in schema {schema} grant usage, select on sequences to {APP_ROLE}",
        ]
    return statements


def tenant_policy_sql(table: str, column: str = "organization_id") -> list[str]:
    qualified = table if "." in table else f"app.{table}"
    return [
        f"alter table {qualified} enable row level security",
        f"create policy tenant_isolation on {qualified} using ({column} = app.current_org_id()) "
        f"with check ({column} = app.current_org_id())",
    ]

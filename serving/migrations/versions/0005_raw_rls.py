"""Row-level security on the `raw` schema for the roles that are not its owner.

The read-only role (dashboards, analysts' SQL clients) sees only the bound organization's landed
events and provider records, and only the file ledger and quarantine of that organization's landing
folders (`<source>/<organization slug or id>/…`): a rejected record's payload can hold personal data.
Rejects from the API carry no file and stay visible to the owner only. The API role keeps its
append-only access (insert, never read). The owner (pipelines, dbt) is unaffected.

Revision ID: 0005
Revises: 0004
"""
from collections.abc import Sequence

from alembic import op

from serving.core.config import APP_ROLE, READONLY_ROLE

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORG_TABLES = ["email_events", "website_events", "enrichment_records", "intent_signals"]
APPEND_ONLY_FOR_API = ["email_events", "website_events", "rejected_records"]
# The organization's folder: the second path segment is its slug or its id.
ORG_FOLDER = ("split_part({column}, '/', 2) in (select o.slug from app.organizations as o"
              " where o.id = app.current_org_id() union all select app.current_org_id()::text)")
FOLDER_TABLES = {"rejected_records": "source_file", "file_ledger": "path"}


def upgrade() -> None:
    for table in [*ORG_TABLES, *FOLDER_TABLES]:
        op.execute(f"alter table raw.{table} enable row level security")
    for table in ORG_TABLES:
        op.execute(f"create policy tenant_read on raw.{table} for select to {READONLY_ROLE}"
                   " using (organization_id = app.current_org_id())")
    for table, column in FOLDER_TABLES.items():
        op.execute(f"create policy tenant_read on raw.{table} for select to {READONLY_ROLE}"
                   f" using ({ORG_FOLDER.format(column=column)})")
    for table in APPEND_ONLY_FOR_API:
        op.execute(f"create policy api_append on raw.{table} for insert to {APP_ROLE} with check (true)")


def downgrade() -> None:
    for table in APPEND_ONLY_FOR_API:
        op.execute(f"drop policy if exists api_append on raw.{table}")
    for table in [*ORG_TABLES, *FOLDER_TABLES]:
        op.execute(f"drop policy if exists tenant_read on raw.{table}")
        op.execute(f"alter table raw.{table} disable row level security")

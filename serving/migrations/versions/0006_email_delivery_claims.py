"""At-most-once email delivery: a committed `sending` claim (attempt id, claim time) before the
provider is called, and the `unknown` outcome for a claim whose worker died and whose provider
cannot say whether the message went out.

Revision ID: 0006
Revises: 0005
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "'queued', 'sending', 'sent', 'delivered', 'bounced', 'failed', 'suppressed', 'cancelled'"

# Claims left in `sending` make their organization due: delivery resolves them (the claim's own
# worker holds a row lock while it talks to the provider, so a live send is never touched).
DUE_ORGANIZATIONS = """
create or replace function app.outreach_due_organizations(p_now timestamptz)
returns setof uuid
language sql stable security definer set search_path = app, pg_temp as $$
  select organization_id from app.emails where status = 'queued' and send_at <= p_now
  union
  select organization_id from app.emails where status = 'sending'
  union
  select organization_id from app.cadence_enrollments where status = 'active' and next_run_at <= p_now
  union
  select organization_id from app.bulk_email_jobs where status in ('pending', 'running') and send_at <= p_now
$$
"""

PREVIOUS_DUE_ORGANIZATIONS = """
create or replace function app.outreach_due_organizations(p_now timestamptz)
returns setof uuid
language sql stable security definer set search_path = app, pg_temp as $$
  select organization_id from app.emails where status = 'queued' and send_at <= p_now
  union
  select organization_id from app.cadence_enrollments where status = 'active' and next_run_at <= p_now
  union
  select organization_id from app.bulk_email_jobs where status in ('pending', 'running') and send_at <= p_now
$$
"""


def upgrade() -> None:
    op.add_column("emails", sa.Column("attempt_id", sa.UUID(), nullable=True), schema="app")
    op.add_column("emails", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True), schema="app")
    op.drop_constraint(op.f("ck_emails_status_valid"), "emails", schema="app", type_="check")
    op.create_check_constraint(
        op.f("ck_emails_status_valid"), "emails", f"status in ({STATUSES}, 'unknown')", schema="app"
    )
    op.create_index(
        "ix_emails_sending", "emails", ["claimed_at"], unique=False, schema="app",
        postgresql_where=sa.text("status = 'sending'"),
    )
    op.execute(DUE_ORGANIZATIONS)


def downgrade() -> None:
    op.execute(PREVIOUS_DUE_ORGANIZATIONS)
    op.drop_index("ix_emails_sending", table_name="emails", schema="app", postgresql_where=sa.text("status = 'sending'"))
    op.execute("update app.emails set status = 'failed' where status = 'unknown'")
    op.drop_constraint(op.f("ck_emails_status_valid"), "emails", schema="app", type_="check")
    op.create_check_constraint(op.f("ck_emails_status_valid"), "emails", f"status in ({STATUSES})", schema="app")
    op.drop_column("emails", "claimed_at", schema="app")
    op.drop_column("emails", "attempt_id", schema="app")

"""The API lands the knowledge base's buying signals in `raw.intent_signals` (as the intent feeds do): insert
only, like the other raw tables it writes, and only rows of the organization the transaction is bound to.

Revision ID: 0018
Revises: 0017
"""
from collections.abc import Sequence

from alembic import op

from serving.core.config import APP_ROLE

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(f"grant insert on raw.intent_signals to {APP_ROLE}")
    op.execute(f"create policy api_append on raw.intent_signals for insert to {APP_ROLE}"
               " with check (organization_id = app.current_org_id())")


def downgrade() -> None:
    op.execute("drop policy if exists api_append on raw.intent_signals")
    op.execute(f"revoke insert on raw.intent_signals from {APP_ROLE}")

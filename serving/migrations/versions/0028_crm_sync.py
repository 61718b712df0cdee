"""Two-way CRM sync (issue 17 §3): HubSpot and Salesforce record links and field mappings.

Reserved stub: filled by the work it names; removed at the end of the session if unused.

Revision ID: 0028
Revises: 0027
"""
from collections.abc import Sequence

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

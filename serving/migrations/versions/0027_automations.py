"""Flows (issue 17 §3): integration flows and their step-by-step executions.

Reserved stub: filled by the work it names; removed at the end of the session if unused.

Revision ID: 0027
Revises: 0026
"""
from collections.abc import Sequence

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""The AI model layer: provider routing, per-organization budgets and the generation log (issue 14).

Revision ID: 0019
Revises: 0018
"""
from collections.abc import Sequence

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

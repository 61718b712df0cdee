"""Integrations (issue 17 §3): the marketplace, installed integrations, usage, reviews, sync logs.

Reserved stub: filled by the work it names; removed at the end of the session if unused.

Revision ID: 0026
Revises: 0025
"""
from collections.abc import Sequence

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""Billing and SSO (issue 18 §3–4).

Reserved stub: filled by the work it names; removed at the end of the session if unused.

Revision ID: 0032
Revises: 0031
"""
from collections.abc import Sequence

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""Flows (issue 17 §3): integration flows and their step-by-step executions.

Reserved stub, empty: filled by the work it names. Kept on the chain even while empty, since databases that
already ran it (installs of earlier versions) must find it.

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

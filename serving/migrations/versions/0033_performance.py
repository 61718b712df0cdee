"""Performance (issues 12 and 13): reserved for what this pass needs.

Reserved stub, empty: filled by the work it names. Kept on the chain even while empty, since databases that
already ran it (installs of earlier versions) must find it.

Revision ID: 0033
Revises: 0032
"""
from collections.abc import Sequence

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

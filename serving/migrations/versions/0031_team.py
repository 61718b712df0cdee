"""Team management and preferences (issue 18 §1–2).

Reserved stub: filled by the work it names; removed at the end of the session if unused.

Revision ID: 0031
Revises: 0030
"""
from collections.abc import Sequence

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

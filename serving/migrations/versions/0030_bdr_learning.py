"""The BDR agent's learning (issue 15 §3): bandit arms and policy backtests.

Reserved stub: filled by the work it names; removed at the end of the session if unused.

Revision ID: 0030
Revises: 0029
"""
from collections.abc import Sequence

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

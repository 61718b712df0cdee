"""The BDR agent's learning (issue 15 §3): bandit arms and policy backtests.

Reserved stub, empty: filled by the work it names. Kept on the chain even while empty, since databases that
already ran it (installs of earlier versions) must find it.

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

"""Enrichment providers (issue 17 §4): providers, requests, per-field provenance.

Reserved stub, empty: filled by the work it names. Kept on the chain even while empty, since databases that
already ran it (installs of earlier versions) must find it.

Revision ID: 0029
Revises: 0028
"""
from collections.abc import Sequence

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""The one clock: every timestamp the product stores is timezone-aware UTC from here (tests pin `now` by argument)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)

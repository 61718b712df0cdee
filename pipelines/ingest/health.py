"""Ingest health rules (pure): freshness of a raw table and anomalies in daily loaded-row counts."""

from __future__ import annotations

from datetime import datetime, timedelta


def is_fresh(last_loaded_at: datetime | None, now: datetime, max_age: timedelta) -> bool:
    return last_loaded_at is not None and now - last_loaded_at <= max_age


def row_count_anomaly(today: int, previous_days: list[int], *, min_history: int = 3,
                      low: float = 0.1, high: float = 10.0) -> str | None:
    """A reason when today's loaded rows fall below 10% or above 10× the trailing average, else None."""
    history = [n for n in previous_days if n > 0]
    if len(history) < min_history:
        return None
    average = sum(history) / len(history)
    if today < average * low:
        return f"{today} rows loaded today vs a trailing average of {average:.0f}"
    if today > average * high:
        return f"{today} rows loaded today, over {high:.0f}× the trailing average of {average:.0f}"
    return None

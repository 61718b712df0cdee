"""Number and date formats for what the pages show (dates in the user's own time zone)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def money(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    value = float(value)
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= threshold:
            return f"${value / threshold:,.1f}{suffix}"
    return f"${value:,.0f}"


def pct(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{float(value) * 100:.{digits}f}%"


def number(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{float(value):,.{digits}f}"


# The signed-in user's time zone (their preferences), set once per page run by the app; UTC until then.
TIMEZONE_KEY = "revorc_timezone"


def when(value: str | None, *, with_time: bool = True, empty: str = "—") -> str:
    """An ISO timestamp from the API in the user's own time zone, e.g. `2026-12-05 09:30 CET`."""
    if not value:
        return empty
    import streamlit as st

    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        zone = ZoneInfo(st.session_state.get(TIMEZONE_KEY) or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    local = moment.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M %Z") if with_time else local.strftime("%Y-%m-%d")

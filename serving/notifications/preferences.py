"""A user's notification preferences as the subscriber and the worker read them, and the quiet-hours and digest
clock rules (pure functions of a time, tested at their edges).

Quiet hours are local wall-clock times in the user's time zone (`22:00`–`08:00` wraps midnight; equal start and
end means none). They hold back e-mail, push and SMS — never the in-app list — until they end; an urgent
notification goes through them only when the user allowed it (`urgentOverridesQuietHours`).
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from serving.notifications.models import DEFAULT_CHANNELS, NotificationPreference

DIGEST_HOUR = 8  # daily and weekly digests go out at 08:00 local; weekly on Mondays


@dataclass(frozen=True)
class Preferences:
    channels: dict = field(default_factory=lambda: copy.deepcopy(DEFAULT_CHANNELS))
    event_overrides: dict = field(default_factory=dict)
    timezone: str = "UTC"
    urgent_overrides_quiet_hours: bool = False

    def wants(self, channel: str, event_type: str) -> bool:
        """Whether `channel` (inApp, email, push, sms) is on for this event type: a per-type override wins."""
        override = (self.event_overrides.get(event_type) or {}).get(channel)
        if override is not None:
            return bool(override)
        return bool((self.channels.get(channel) or {}).get("enabled", False))

    @property
    def email_frequency(self) -> str:
        return (self.channels.get("email") or {}).get("frequency", "daily")

    @property
    def quiet_hours(self) -> tuple[time, time] | None:
        email = self.channels.get("email") or {}
        start, end = email.get("quietHoursStart"), email.get("quietHoursEnd")
        if not start or not end or start == end:
            return None
        return time.fromisoformat(start), time.fromisoformat(end)

    def quiet_until(self, now: datetime, *, priority: str) -> datetime | None:
        """When the quiet hours holding back a send at `now` end (UTC), or None when it may go now."""
        if priority == "urgent" and self.urgent_overrides_quiet_hours:
            return None
        return quiet_until(now, self.quiet_hours, ZoneInfo(self.timezone))


def quiet_until(now: datetime, window: tuple[time, time] | None, zone: ZoneInfo) -> datetime | None:
    if window is None:
        return None
    start, end = window
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    inside = (start <= clock < end) if start < end else (clock >= start or clock < end)
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone).astimezone(now.tzinfo)


def digest_period_end(now: datetime, frequency: str, zone: ZoneInfo) -> datetime:
    """The latest digest boundary at or before `now` (UTC): the hour for hourly; 08:00 local for daily; Monday
    08:00 local for weekly. A digest covers what was batched before its boundary."""
    local = now.astimezone(zone)
    if frequency == "hourly":
        boundary = local.replace(minute=0, second=0, microsecond=0)
    else:
        boundary = datetime.combine(local.date(), time(DIGEST_HOUR), tzinfo=zone)
        if boundary > local:
            boundary -= timedelta(days=1)
        if frequency == "weekly":
            boundary -= timedelta(days=boundary.weekday())
    return boundary.astimezone(now.tzinfo)


def row_preferences(row: NotificationPreference | None, *, timezone: str = "UTC") -> Preferences:
    if row is None:
        return Preferences(timezone=timezone)
    channels = copy.deepcopy(DEFAULT_CHANNELS)
    for name, value in (row.channels or {}).items():
        channels[name] = {**channels.get(name, {}), **value}
    return Preferences(channels=channels, event_overrides=row.event_overrides or {}, timezone=timezone,
                       urgent_overrides_quiet_hours=row.urgent_overrides_quiet_hours)


def profile_timezone(db_session: Session, *, user_id: uuid.UUID) -> str:
    """The user's time zone (their profile's): quiet hours and digests follow it."""
    value = db_session.scalar(text("select timezone from app.profiles where user_id = :id"), {"id": user_id})
    try:
        ZoneInfo(value or "UTC")
    except (ValueError, KeyError):
        return "UTC"
    return value or "UTC"


def preferences_for(db_session: Session, *, user_id: uuid.UUID) -> Preferences:
    row = db_session.get(NotificationPreference, user_id)
    return row_preferences(row, timezone=profile_timezone(db_session, user_id=user_id))

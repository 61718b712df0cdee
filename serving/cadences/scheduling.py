"""When a step may run: delays, business hours and working days in the prospect's time zone.

Pure functions over aware datetimes; the cadence's `settings` JSON supplies the window:
`{"businessHours": {"start": "09:00", "end": "17:00"}, "workingDays": [1,2,3,4,5],
"timezone": "America/New_York"}` (days are ISO weekdays, Monday = 1). The prospect's own time zone
(`prospects.timezone`, or `enrichment_data.timezone`) wins over the cadence default.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_START = time(9, 0)
DEFAULT_END = time(17, 0)
DEFAULT_DAYS = (1, 2, 3, 4, 5)


def _clock(value: str | None, fallback: time) -> time:
    if not value:
        return fallback
    hours, _, minutes = value.partition(":")
    return time(int(hours), int(minutes or 0))


def zone_for(prospect_timezone: str | None, enrichment: dict | None, cadence_settings: dict) -> ZoneInfo:
    for candidate in (
        prospect_timezone,
        (enrichment or {}).get("timezone"),
        cadence_settings.get("timezone"),
    ):
        if candidate:
            try:
                return ZoneInfo(str(candidate))
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def window(cadence_settings: dict) -> tuple[time, time, tuple[int, ...]]:
    hours = cadence_settings.get("businessHours") or {}
    start = _clock(hours.get("start"), DEFAULT_START)
    end = _clock(hours.get("end"), DEFAULT_END)
    days = tuple(int(d) for d in cadence_settings.get("workingDays") or DEFAULT_DAYS) or DEFAULT_DAYS
    return start, end, days


def next_business_time(moment: datetime, zone: ZoneInfo, cadence_settings: dict) -> datetime:
    """The first instant at or after `moment` inside business hours on a working day (as UTC)."""
    if cadence_settings.get("businessHoursOnly") is False:
        return moment.astimezone(UTC)
    start, end, days = window(cadence_settings)
    local = moment.astimezone(zone)
    for _ in range(15):
        if local.isoweekday() in days:
            opens = datetime.combine(local.date(), start, tzinfo=zone)
            closes = datetime.combine(local.date(), end, tzinfo=zone)
            if local < opens:
                return opens.astimezone(UTC)
            if local < closes:
                return local.astimezone(UTC)
        next_day = local.date() + timedelta(days=1)
        local = datetime.combine(next_day, time(0, 0), tzinfo=zone)
    return moment.astimezone(UTC)


def due_at(
    previous: datetime, delay_days: int, delay_hours: int, zone: ZoneInfo, cadence_settings: dict
) -> datetime:
    """`previous` + delay, moved into the next business window of the prospect's zone.

    Day delays count calendar days in the prospect's zone (a 2-day delay from Monday 16:00 is
    Wednesday 16:00 local, across DST changes too).
    """
    local = previous.astimezone(zone)
    shifted = datetime.combine(
        local.date() + timedelta(days=delay_days), local.timetz().replace(tzinfo=None), tzinfo=zone
    )
    shifted = shifted + timedelta(hours=delay_hours)
    return next_business_time(shifted, zone, cadence_settings)


def pick_variant(variants: list, key: str):
    """Weighted, deterministic A/B split: the same enrollment always gets the same variant."""
    if not variants:
        return None
    total = sum(max(v.weight, 1) for v in variants)
    point = int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) % total
    for variant in sorted(variants, key=lambda v: v.name):
        point -= max(variant.weight, 1)
        if point < 0:
            return variant
    return variants[-1]


CONDITIONS = {"opened", "not_opened", "clicked", "not_clicked", "replied", "no_reply", "no_response"}


def condition_met(condition: str, engagement: dict[str, bool]) -> bool:
    """`engagement` summarises earlier emails of the enrollment: opened / clicked / replied."""
    opened, clicked, replied = engagement.get("opened"), engagement.get("clicked"), engagement.get("replied")
    return {
        "opened": bool(opened),
        "not_opened": not opened,
        "clicked": bool(clicked),
        "not_clicked": not clicked,
        "replied": bool(replied),
        "no_reply": not replied,
        "no_response": not (opened or clicked or replied),
    }[condition]

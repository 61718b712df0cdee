"""Notification API bodies and answers (camelCase), with the preferences' validation: IANA time zones, `HH:MM`
quiet hours, digest frequencies, and per-event overrides only for catalogued (or planned) event types."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AnyHttpUrl, Field, field_validator

from serving.core.pagination import PaginationMeta
from serving.core.schemas import ApiModel, InputModel
from serving.notifications.rules import BY_TYPE

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
ChannelName = Literal["inApp", "email", "push", "sms"]


class NotificationOut(ApiModel):
    id: uuid.UUID
    type: str
    title: str
    body: str | None
    data: dict[str, Any]
    priority: str
    action_url: str | None
    group_key: str | None
    count: int
    read_at: datetime | None
    archived_at: datetime | None
    snoozed_until: datetime | None
    created_at: datetime
    updated_at: datetime


class NotificationPage(ApiModel):
    data: list[NotificationOut]
    pagination: PaginationMeta
    unread_count: int


class UnreadCount(ApiModel):
    unread_count: int


class MarkedAll(ApiModel):
    updated: int
    unread_count: int


class SnoozeIn(InputModel):
    until: datetime = Field(description="when the notification comes back (ISO 8601 with an offset; in the future)")

    @field_validator("until")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give a time zone offset, e.g. 2026-01-01T09:00:00Z")
        return value


class InAppChannel(InputModel):
    enabled: bool = True
    sound: bool = False
    desktop: bool = False


class EmailChannel(InputModel):
    enabled: bool = True
    frequency: Literal["instant", "hourly", "daily", "weekly"] = "daily"
    quiet_hours_start: str | None = "22:00"
    quiet_hours_end: str | None = "08:00"

    @field_validator("quiet_hours_start", "quiet_hours_end")
    @classmethod
    def _hhmm(cls, value: str | None) -> str | None:
        if value is not None and not HHMM.match(value):
            raise ValueError("quiet hours are 24-hour HH:MM, e.g. 22:00")
        return value


class Toggle(InputModel):
    enabled: bool = False


class Channels(InputModel):
    in_app: InAppChannel = InAppChannel()
    email: EmailChannel = EmailChannel()
    push: Toggle = Toggle()
    sms: Toggle = Toggle()


Override = dict[ChannelName, bool]


class PreferencesIn(InputModel):
    channels: Channels = Channels()
    event_overrides: dict[Annotated[str, Field(max_length=100)], Override] = {}
    timezone: str = Field(default="UTC", max_length=64, description="IANA time zone, e.g. Europe/Paris")
    urgent_overrides_quiet_hours: bool = False

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Paris)") from None
        return value

    @field_validator("event_overrides")
    @classmethod
    def _known(cls, value: dict[str, Override]) -> dict[str, Override]:
        unknown = sorted(set(value) - set(BY_TYPE))
        if unknown:
            raise ValueError(f"no notifications exist for {unknown}; see docs/notifications.md for the list")
        return value


class PreferencesOut(ApiModel):
    channels: dict[str, Any]
    event_overrides: dict[str, Any]
    timezone: str
    urgent_overrides_quiet_hours: bool
    event_types: list[str] = Field(description="the event types that notify (for per-type overrides)")


class PushKeys(InputModel):
    p256dh: str = Field(min_length=20, max_length=200, pattern=r"^[A-Za-z0-9_-]+={0,2}$")
    auth: str = Field(min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_-]+={0,2}$")


class PushSubscribeIn(InputModel):
    """The browser's `PushSubscription.toJSON()`, plus an optional device label."""

    endpoint: AnyHttpUrl
    keys: PushKeys
    # DOMHighResTimeStamp (ms since the epoch) or null, as browsers send it; not stored
    expiration_time: float | None = Field(default=None, ge=0, le=1e15)
    device: str | None = Field(default=None, max_length=200)


class PushUnsubscribeIn(InputModel):
    endpoint: AnyHttpUrl


class PushSubscriptionOut(ApiModel):
    id: uuid.UUID
    endpoint: str
    device: str | None
    created_at: datetime


class PushConfigOut(ApiModel):
    vapid_public_key: str | None = Field(description="the applicationServerKey browsers subscribe with")

"""Notifications (seed 8.1): the in-app records, each user's channel preferences, per-channel deliveries, e-mail
digest batches, Web Push subscriptions and WebSocket presence. Every table is a tenant table (row-level security).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin
from serving.core.enums import check_in


class NotificationPriority(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    urgent = "urgent"


class Channel(StrEnum):
    email = "email"
    push = "push"
    sms = "sms"


class DeliveryState(StrEnum):
    pending = "pending"  # waiting for the worker (or for the end of quiet hours: `scheduled_for`)
    batched = "batched"  # waiting for the user's e-mail digest
    sent = "sent"
    failed = "failed"
    skipped = "skipped"  # nothing to send to (no push subscription, no phone, SMS not configured)


class Frequency(StrEnum):
    instant = "instant"
    hourly = "hourly"
    daily = "daily"
    weekly = "weekly"


class BatchStatus(StrEnum):
    sent = "sent"
    failed = "failed"


class PresenceStatus(StrEnum):
    online = "online"
    away = "away"
    offline = "offline"


class Notification(IdMixin, Base):
    __tablename__ = "notifications"
    __table_args__ = (
        check_in("priority", NotificationPriority, nullable=False),
        Index("ix_notifications_user_created", "user_id", "created_at"),
        Index("ix_notifications_org_created", "organization_id", "created_at"),
        Index("ix_notifications_user_unread", "user_id", postgresql_where="read_at is null"),
        # the open notification a repeat folds into (see flows.collapse)
        Index("ix_notifications_user_group", "user_id", "group_key", "updated_at",
              postgresql_where="group_key is not null and archived_at is null"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # the domain event it came from, e.g. lead.score_threshold_crossed
    type: Mapped[str] = mapped_column(Text, index=True)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    priority: Mapped[str] = mapped_column(Text, default=NotificationPriority.medium, server_default="medium")
    action_url: Mapped[str | None] = mapped_column(Text)
    # repeats with the same key within the collapse window raise `count` instead of adding a row
    group_key: Mapped[str | None] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    source_event_id: Mapped[uuid.UUID | None]
    read_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]
    snoozed_until: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


DEFAULT_CHANNELS: dict = {
    "inApp": {"enabled": True, "sound": False, "desktop": False},
    "email": {"enabled": True, "frequency": "daily", "quietHoursStart": "22:00", "quietHoursEnd": "08:00"},
    "push": {"enabled": False},
    "sms": {"enabled": False},
}


class NotificationPreference(Base):
    __tablename__ = "notification_preferences"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    # the seed's channels JSON (DEFAULT_CHANNELS), validated by schemas.Channels
    channels: Mapped[dict] = mapped_column(JSONB)
    # per event type: {"deal.won": {"inApp": true, "email": false, "push": true, "sms": false}}
    event_overrides: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    # the time zone of quiet hours and digests is the user's own (profiles.timezone): one place for it
    urgent_overrides_quiet_hours: Mapped[bool] = mapped_column(default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class NotificationBatch(IdMixin, Base):
    """One e-mail digest: the user's batched notifications of one period, sent once."""

    __tablename__ = "notification_batches"
    __table_args__ = (
        check_in("frequency", Frequency, nullable=False),
        check_in("status", BatchStatus, nullable=False),
        UniqueConstraint("user_id", "frequency", "period_end"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    frequency: Mapped[str] = mapped_column(Text)
    period_end: Mapped[datetime]
    notification_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    status: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class NotificationDelivery(IdMixin, Base):
    __tablename__ = "notification_deliveries"
    __table_args__ = (
        check_in("channel", Channel, nullable=False),
        check_in("status", DeliveryState, nullable=False),
        UniqueConstraint("notification_id", "channel"),
        Index("ix_notification_deliveries_batched", "user_id", postgresql_where=text("status = 'batched'")),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    notification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, default=DeliveryState.pending, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    scheduled_for: Mapped[datetime | None]
    batch_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("notification_batches.id", ondelete="SET NULL"), index=True
    )
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class PushSubscription(IdMixin, Base):
    """A browser's Web Push subscription (the PushSubscription JSON: endpoint and its p256dh/auth keys)."""

    __tablename__ = "push_subscriptions"
    __table_args__ = (UniqueConstraint("user_id", "endpoint"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    endpoint: Mapped[str] = mapped_column(Text)
    p256dh: Mapped[str] = mapped_column(Text)
    auth: Mapped[str] = mapped_column(Text)
    device: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class UserPresence(Base):
    __tablename__ = "user_presence"
    __table_args__ = (check_in("status", PresenceStatus, nullable=False),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(Text, default=PresenceStatus.offline, server_default="offline")
    connection_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_seen_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())

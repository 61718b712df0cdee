"""Integrations (issue 17 §3): the global marketplace catalogue, each organization's installed integrations with
their sealed credentials, usage per hour, reviews and sync logs."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin, TimestampMixin
from serving.core.enums import check_in


class AuthType(StrEnum):
    oauth2 = "oauth2"
    api_key = "api_key"
    none = "none"


class MarketplaceStatus(StrEnum):
    # "available" only for connectors that work end to end; the seed's other integrations are "planned"
    available = "available"
    planned = "planned"


class IntegrationStatus(StrEnum):
    connected = "connected"
    error = "error"
    disconnected = "disconnected"
    expired = "expired"


class SyncDirection(StrEnum):
    inbound = "inbound"
    outbound = "outbound"
    both = "both"


class SyncStatus(StrEnum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


def _org() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))


class IntegrationMarketplace(IdMixin, Base):
    """The global catalogue (not a tenant table): what can be installed, and honestly whether it works yet."""

    __tablename__ = "integration_marketplace"
    __table_args__ = (
        UniqueConstraint("key"),
        check_in("auth_type", AuthType, nullable=False),
        check_in("status", MarketplaceStatus, nullable=False),
    )

    key: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    auth_type: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)


class TeamIntegration(IdMixin, TimestampMixin, Base):
    __tablename__ = "team_integrations"
    __table_args__ = (
        UniqueConstraint("organization_id", "provider"),
        check_in("status", IntegrationStatus, nullable=False),
        check_in("auth_type", AuthType, nullable=False),
        CheckConstraint("health_score >= 0 and health_score <= 100", name="health_score_0_100"),
    )

    organization_id: Mapped[uuid.UUID] = _org()
    provider: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    auth_type: Mapped[str] = mapped_column(Text)
    # every secret is sealed with purpose "integration-credentials" (serving/core/sealing.py); never stored plain
    sealed_access_token: Mapped[str | None] = mapped_column(Text)
    sealed_refresh_token: Mapped[str | None] = mapped_column(Text)
    token_expires_at: Mapped[datetime | None]
    sealed_api_key: Mapped[str | None] = mapped_column(Text)
    config: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    installed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    last_sync_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    health_score: Mapped[int] = mapped_column(default=100, server_default="100")


class IntegrationUsageAnalytics(IdMixin, Base):
    """Calls per integration per hour; the day view sums hours. p95 comes from latency_ms_samples (bounded)."""

    __tablename__ = "integration_usage_analytics"
    __table_args__ = (UniqueConstraint("integration_id", "hour"),)

    organization_id: Mapped[uuid.UUID] = _org()
    integration_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("team_integrations.id", ondelete="CASCADE"))
    hour: Mapped[datetime]
    calls: Mapped[int] = mapped_column(default=0, server_default="0")
    errors: Mapped[int] = mapped_column(default=0, server_default="0")
    latency_ms_sum: Mapped[int] = mapped_column(default=0, server_default="0")
    # the last few hundred latencies of the hour, enough for a p95 without a histogram extension
    latency_ms_samples: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    cost_micros: Mapped[int] = mapped_column(default=0, server_default="0")


class IntegrationReview(IdMixin, TimestampMixin, Base):
    __tablename__ = "integration_reviews"
    __table_args__ = (
        UniqueConstraint("organization_id", "provider", "user_id"),
        CheckConstraint("rating >= 1 and rating <= 5", name="rating_1_5"),
    )

    organization_id: Mapped[uuid.UUID] = _org()
    provider: Mapped[str] = mapped_column(Text)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    rating: Mapped[int]
    text: Mapped[str] = mapped_column(Text, default="", server_default="")


class IntegrationSyncLog(IdMixin, Base):
    __tablename__ = "integration_sync_logs"
    __table_args__ = (
        check_in("direction", SyncDirection, nullable=False),
        check_in("status", SyncStatus, nullable=False),
        Index("ix_integration_sync_logs_integration_started", "integration_id", "started_at"),
    )

    organization_id: Mapped[uuid.UUID] = _org()
    integration_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("team_integrations.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(Text)
    read_count: Mapped[int] = mapped_column(default=0, server_default="0")
    created_count: Mapped[int] = mapped_column(default=0, server_default="0")
    updated_count: Mapped[int] = mapped_column(default=0, server_default="0")
    skipped_count: Mapped[int] = mapped_column(default=0, server_default="0")
    failed_count: Mapped[int] = mapped_column(default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)

"""Enrichment (issue 17 §4): each organization's vendor settings (sealed API key, priority, cost, monthly cap) and
one row per provider asked (or skipped, or served from the cache) for a prospect."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin, TimestampMixin
from serving.core.enums import check_in


class EnrichmentProviderName(StrEnum):
    clearbit = "clearbit"
    zoominfo = "zoominfo"
    apollo = "apollo"
    hunter = "hunter"
    pdl = "pdl"


class EnrichmentRequestStatus(StrEnum):
    ok = "ok"
    no_match = "no_match"
    bad_key = "bad_key"
    rate_limited = "rate_limited"
    provider_error = "provider_error"
    error = "error"
    skipped_cost_cap = "skipped_cost_cap"


def _org() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))


class EnrichmentProvider(IdMixin, TimestampMixin, Base):
    __tablename__ = "enrichment_providers"
    __table_args__ = (
        UniqueConstraint("organization_id", "provider"),
        check_in("provider", EnrichmentProviderName, nullable=False),
        CheckConstraint("cost_cents_per_request >= 0", name="cost_cents_per_request_non_negative"),
        CheckConstraint("monthly_cap_cents is null or monthly_cap_cents >= 0", name="monthly_cap_cents_non_negative"),
    )

    organization_id: Mapped[uuid.UUID] = _org()
    provider: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True, server_default="true")
    priority: Mapped[int] = mapped_column(default=100, server_default="100")
    # sealed with purpose "integration-credentials" (serving/core/sealing.py); never stored plain, never returned
    sealed_api_key: Mapped[str | None] = mapped_column(Text)
    cost_cents_per_request: Mapped[int] = mapped_column(default=0, server_default="0")
    monthly_cap_cents: Mapped[int | None]


class EnrichmentRequest(IdMixin, TimestampMixin, Base):
    __tablename__ = "enrichment_requests"
    __table_args__ = (
        check_in("provider", EnrichmentProviderName, nullable=False),
        check_in("status", EnrichmentRequestStatus, nullable=False),
        CheckConstraint("cost_cents >= 0", name="cost_cents_non_negative"),
        Index("ix_enrichment_requests_organization_created", "organization_id", "created_at"),
        Index("ix_enrichment_requests_prospect_id", "prospect_id"),
    )

    organization_id: Mapped[uuid.UUID] = _org()
    prospect_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("prospects.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    fields_returned: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    cost_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    latency_ms: Mapped[int | None]
    cache_hit: Mapped[bool] = mapped_column(default=False, server_default="false")
    error: Mapped[str | None] = mapped_column(Text)


class EnrichmentCacheEntry(IdMixin, TimestampMixin, Base):
    """A vendor's answer to one lookup (`answer` null: the vendor knew nobody), per organization — never shared
    across organizations: what a vendor sold one customer is not another's to read."""

    __tablename__ = "enrichment_cache"
    __table_args__ = (
        UniqueConstraint("organization_id", "provider", "lookup_hash"),
        check_in("provider", EnrichmentProviderName, nullable=False),
    )

    organization_id: Mapped[uuid.UUID] = _org()
    provider: Mapped[str] = mapped_column(Text)
    lookup_hash: Mapped[str] = mapped_column(Text)  # SHA-256 of the normalised lookup (no address stored twice)
    answer: Mapped[dict | None] = mapped_column(JSONB)
    fetched_at: Mapped[datetime]

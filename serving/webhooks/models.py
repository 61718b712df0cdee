"""Outbound webhooks (seed 8.2): the organization's endpoints and one log row per delivery attempt set (an event,
or a batch of events, to one endpoint, with every attempt's latest request and response). Both are tenant tables
(row-level security)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin
from serving.core.enums import check_in


class LogStatus(StrEnum):
    pending = "pending"  # waiting for its first attempt
    failed = "failed"  # an attempt failed; the next one is at `next_attempt_at`
    succeeded = "succeeded"
    dead = "dead"  # the last attempt failed (or the receiver answered 410 Gone): kept for replay


class WebhookEndpoint(IdMixin, Base):
    __tablename__ = "webhook_endpoints"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    # catalogued event type names, or ["*"] for all of them
    event_types: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    enabled: Mapped[bool] = mapped_column(default=True, server_default="true")
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    batch: Mapped[bool] = mapped_column(default=False, server_default="false")
    batch_max_size: Mapped[int] = mapped_column(Integer, default=50, server_default="50")
    # `whsec_` secrets (Standard Webhooks); never returned by the API after creation or rotation. During the
    # overlap after a rotation both sign (two signatures in `webhook-signature`).
    secret: Mapped[str] = mapped_column(Text)
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None]
    # admin-only, and only honoured while WEBHOOKS_ALLOW_PRIVATE_TARGETS is on
    allow_private: Mapped[bool] = mapped_column(default=False, server_default="false")
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class WebhookLog(IdMixin, Base):
    __tablename__ = "webhook_logs"
    __table_args__ = (
        check_in("status", LogStatus, nullable=False),
        Index("ix_webhook_logs_endpoint_created", "endpoint_id", "created_at"),
        Index("ix_webhook_logs_due", "organization_id", "next_attempt_at",
              postgresql_where=text("status in ('pending', 'failed')")),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    # the domain event ids (one, or several for a batch) and their types
    event_ids: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    event_types: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    # `webhook-id`: the event id for a single event (the receiver's idempotency key), the log id for a batch
    message_id: Mapped[str] = mapped_column(Text)
    # what is sent: one Standard Webhooks payload, or (batch) a list of them with their ids
    payload: Mapped[dict | list] = mapped_column(JSONB)
    replay_of: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("webhook_logs.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(Text, default=LogStatus.pending, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    request_headers: Mapped[dict | None] = mapped_column(JSONB)
    request_body: Mapped[str | None] = mapped_column(Text)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict | None] = mapped_column(JSONB)
    response_body: Mapped[str | None] = mapped_column(Text)  # capped (delivery.RESPONSE_CAP)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())

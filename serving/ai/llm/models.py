"""The model layer's tables: the generation log, per-organization routes and budgets."""

from __future__ import annotations

import uuid
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, Numeric, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin, TimestampMixin
from serving.core.enums import check_in


class GenerationStatus(StrEnum):
    ok = "ok"
    error = "error"          # every provider failed, or the stream broke
    refused = "refused"      # over the organization's budget; nothing was sent to a vendor
    # reserved: counted against the budget with its estimate while the call runs (a crash leaves the estimate)
    pending = "pending"


class AiGeneration(IdMixin, TimestampMixin, Base):
    """One call of the model layer (or of the offline writer, provider "offline"): what it used and cost."""

    __tablename__ = "ai_generations"
    __table_args__ = (
        check_in("status", GenerationStatus, nullable=False),
        Index("ix_ai_generations_org_created", "organization_id", "created_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    task: Mapped[str] = mapped_column(Text)
    provider: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(Text)
    prompt_version: Mapped[str] = mapped_column(Text)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    output_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(14, 6), default=Decimal(0), server_default="0")
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    status: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    # every provider/model tried, with the error that made the layer move on
    attempts: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    # set by the writer's checker (serving/ai/checker.py) once the output was checked
    check_passed: Mapped[bool | None] = mapped_column(Boolean)
    check_result: Mapped[dict | None] = mapped_column(JSONB)


class AiRoute(IdMixin, TimestampMixin, Base):
    """An organization's ordered provider/model chain for one task: [{"provider", "model"}, ...]."""

    __tablename__ = "ai_routes"
    __table_args__ = (UniqueConstraint("organization_id", "task"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    task: Mapped[str] = mapped_column(Text)
    chain: Mapped[list] = mapped_column(JSONB)


class AiBudget(IdMixin, TimestampMixin, Base):
    """An organization's monthly AI spending cap in USD (calendar month, UTC)."""

    __tablename__ = "ai_budgets"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"),
                                                       unique=True)
    monthly_cap_usd: Mapped[Decimal] = mapped_column(Numeric(12, 2))

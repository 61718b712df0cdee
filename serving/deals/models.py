"""Deals and the prospects involved in them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin, TimestampMixin
from serving.core.enums import check_in, check_score


class DealStage(StrEnum):
    discovery = "discovery"
    qualification = "qualification"
    proposal = "proposal"
    negotiation = "negotiation"
    closed_won = "closed_won"
    closed_lost = "closed_lost"


CLOSED_STAGES = frozenset({DealStage.closed_won, DealStage.closed_lost})


class ForecastCategory(StrEnum):
    pipeline = "pipeline"
    best_case = "best_case"
    commit = "commit"
    closed = "closed"
    omitted = "omitted"


class DealContactRole(StrEnum):
    decision_maker = "decision_maker"
    economic_buyer = "economic_buyer"
    champion = "champion"
    influencer = "influencer"
    technical_buyer = "technical_buyer"
    end_user = "end_user"
    blocker = "blocker"
    other = "other"


class Deal(IdMixin, TimestampMixin, Base):
    __tablename__ = "deals"
    __table_args__ = (
        check_in("stage", DealStage, nullable=False),
        check_in("forecast_category", ForecastCategory, nullable=False),
        CheckConstraint("amount >= 0", name="amount_nonneg"),
        CheckConstraint("probability >= 0 and probability <= 100", name="probability_0_100"),
        check_score("risk_score"),
        Index("ix_deals_org_stage", "organization_id", "stage"),
        Index("ix_deals_org_close_date", "organization_id", "close_date"),
        Index("ix_deals_org_forecast", "organization_id", "forecast_category"),
        Index("ix_deals_org_amount", "organization_id", "amount"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2), default=0, server_default="0")
    currency: Mapped[str] = mapped_column(Text, default="USD", server_default="USD")
    probability: Mapped[int] = mapped_column(default=10, server_default="10")
    stage: Mapped[str] = mapped_column(Text, default=DealStage.discovery, server_default="discovery")
    forecast_category: Mapped[str] = mapped_column(Text, default=ForecastCategory.pipeline)
    # True when a person set the category; otherwise it follows the probability bands.
    forecast_category_manual: Mapped[bool] = mapped_column(default=False, server_default="false")
    close_date: Mapped[date | None]
    risk_score: Mapped[int | None]
    ai_analysis: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    metadata_: Mapped[dict] = mapped_column("metadata", JSONB, default=dict, server_default="{}")
    lost_reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    stage_changed_at: Mapped[datetime | None] = mapped_column(server_default=func.now())
    closed_at: Mapped[datetime | None]


class DealContact(IdMixin, Base):
    __tablename__ = "deal_contacts"
    __table_args__ = (UniqueConstraint("deal_id", "prospect_id"), check_in("role", DealContactRole))

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    deal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    prospect_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("prospects.id", ondelete="CASCADE"), index=True)
    role: Mapped[str | None] = mapped_column(Text)
    is_primary: Mapped[bool] = mapped_column(default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

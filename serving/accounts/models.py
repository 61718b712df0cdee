"""Accounts (companies) with a parent/child hierarchy, and extended company profiles."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin, TimestampMixin
from serving.core.enums import check_score


class Account(IdMixin, TimestampMixin, Base):
    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("organization_id", "domain"),
        CheckConstraint("employee_count is null or employee_count >= 0", name="employee_count_nonneg"),
        CheckConstraint("annual_revenue is null or annual_revenue >= 0", name="annual_revenue_nonneg"),
        CheckConstraint("parent_account_id is null or parent_account_id <> id", name="not_own_parent"),
        check_score("health_score"),
        check_score("intent_score"),
        Index("ix_accounts_org_name", "organization_id", "name"),
        # the organization's industries, read value by value (serving/search/service.py INDUSTRIES_SQL)
        Index("ix_accounts_org_industry", "organization_id", "industry"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    parent_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(Text)
    domain: Mapped[str | None] = mapped_column(Text)
    industry: Mapped[str | None] = mapped_column(Text)
    employee_count: Mapped[int | None]
    annual_revenue: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    website: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    year_established: Mapped[int | None]
    health_score: Mapped[int | None]
    intent_score: Mapped[int | None]
    intent_tier: Mapped[str | None] = mapped_column(Text)
    custom_fields: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")


class CompanyProfile(IdMixin, TimestampMixin, Base):
    __tablename__ = "company_profiles"
    __table_args__ = (check_score("research_quality_score"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), unique=True
    )
    name: Mapped[str] = mapped_column(Text)
    domain: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    technologies: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    funding: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    news: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    buying_signals: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    research_data: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    research_quality_score: Mapped[int | None]
    last_researched_at: Mapped[datetime | None]

"""Tenants and teams."""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Identity, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin, TenantMixin, TimestampMixin
from serving.core.enums import check_in


class Plan(StrEnum):
    free = "free"
    starter = "starter"
    pro = "pro"
    enterprise = "enterprise"


class Organization(IdMixin, TimestampMixin, Base):
    __tablename__ = "organizations"
    __table_args__ = (check_in("plan", Plan, nullable=False),)

    name: Mapped[str] = mapped_column(Text)
    slug: Mapped[str] = mapped_column(Text, unique=True)
    plan: Mapped[str] = mapped_column(Text, default=Plan.free, server_default=Plan.free.value)
    settings: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    # the organization's number in the search index: every document carries it, every search key pins it
    # (a numeric filter; serving/search/engine.py). Assigned by the database, never changed.
    search_tenant: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)


class Team(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")

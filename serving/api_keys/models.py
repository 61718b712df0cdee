"""API keys: only a hash of the secret is stored; the prefix identifies the key to people."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ARRAY, BigInteger, ForeignKey, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin
from serving.core.enums import check_in


class ApiKeyStatus(StrEnum):
    active = "active"
    revoked = "revoked"
    expired = "expired"


class ApiKeyEnvironment(StrEnum):
    live = "live"
    test = "test"


class ApiKey(IdMixin, Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        check_in("status", ApiKeyStatus, nullable=False),
        check_in("environment", ApiKeyEnvironment, nullable=False),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text, index=True)
    key_hash: Mapped[str] = mapped_column(Text, unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    environment: Mapped[str] = mapped_column(Text, default=ApiKeyEnvironment.live)
    status: Mapped[str] = mapped_column(Text, default=ApiKeyStatus.active, server_default="active")
    request_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    rotated_from_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ApiKeyUsageDaily(Base):
    __tablename__ = "api_key_usage_daily"

    api_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    request_count: Mapped[int] = mapped_column(BigInteger, default=0)

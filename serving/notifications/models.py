"""In-app notification records (seed 8.1, minimal): who, what happened, read state.

Delivery channels (email digests, push, WebSocket) come later; producers only insert rows here.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin
from serving.core.enums import check_in


class NotificationPriority(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    urgent = "urgent"


class Notification(IdMixin, Base):
    __tablename__ = "notifications"
    __table_args__ = (
        check_in("priority", NotificationPriority, nullable=False),
        Index("ix_notifications_user_created", "user_id", "created_at"),
        Index("ix_notifications_org_created", "organization_id", "created_at"),
        Index("ix_notifications_user_unread", "user_id", postgresql_where="read_at is null"),
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
    read_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

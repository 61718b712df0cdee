"""AI e-mail drafts: what the writer produced, the facts it used, and the checker's verdict stored with it."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Numeric, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin, TimestampMixin
from serving.core.enums import check_in


class DraftStatus(StrEnum):
    draft = "draft"
    approved = "approved"
    sent = "sent"
    rejected = "rejected"


class AiEmailDraft(IdMixin, TimestampMixin, Base):
    __tablename__ = "ai_email_drafts"
    __table_args__ = (
        check_in("status", DraftStatus, nullable=False),
        Index("ix_ai_email_drafts_org_created", "organization_id", "created_at"),
        Index("ix_ai_email_drafts_prospect", "prospect_id"),
        Index("ix_ai_email_drafts_variant_group", "variant_group_id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    prospect_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("prospects.id", ondelete="CASCADE"))
    mailbox_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("mailboxes.id", ondelete="SET NULL"))
    generation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ai_generations.id", ondelete="SET NULL"))
    # drafts generated together as A/B variants share a group; `variant` says what differs
    variant_group_id: Mapped[uuid.UUID | None]
    variant: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    to_email: Mapped[str] = mapped_column(Text)
    from_email: Mapped[str] = mapped_column(Text)
    settings: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")  # tone, length, persona…
    facts: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")  # with their sources
    provider: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(Text)
    prompt_version: Mapped[str] = mapped_column(Text)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(14, 6), default=Decimal(0), server_default="0")
    check_passed: Mapped[bool] = mapped_column(Boolean)
    check_result: Mapped[dict] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(Text, default=DraftStatus.draft, server_default=DraftStatus.draft.value)
    approved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None]
    email_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("emails.id", ondelete="SET NULL"))
    sent_at: Mapped[datetime | None]

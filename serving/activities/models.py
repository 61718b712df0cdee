"""Activities on the timeline of prospects, accounts and deals, and logged calls."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin
from serving.core.enums import check_in


class ActivityType(StrEnum):
    email_sent = "email_sent"
    email_received = "email_received"
    email_opened = "email_opened"
    email_clicked = "email_clicked"
    email_bounced = "email_bounced"
    email_unsubscribed = "email_unsubscribed"
    call_made = "call_made"
    call_received = "call_received"
    meeting_scheduled = "meeting_scheduled"
    meeting_completed = "meeting_completed"
    linkedin_interaction = "linkedin_interaction"
    sms_sent = "sms_sent"
    note_added = "note_added"
    status_change = "status_change"
    task_completed = "task_completed"


class CallDisposition(StrEnum):
    answered = "answered"
    voicemail = "voicemail"
    no_answer = "no_answer"
    busy = "busy"


class CallDirection(StrEnum):
    outbound = "outbound"
    inbound = "inbound"


class Activity(IdMixin, Base):
    __tablename__ = "activities"
    __table_args__ = (
        check_in("type", ActivityType, nullable=False),
        Index("ix_activities_org_occurred", "organization_id", "occurred_at"),
        Index("ix_activities_prospect_occurred", "prospect_id", "occurred_at"),
        Index("ix_activities_account_occurred", "account_id", "occurred_at"),
        Index("ix_activities_deal_occurred", "deal_id", "occurred_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    prospect_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("prospects.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    deal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(Text, index=True)
    subject: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict] = mapped_column("metadata", JSONB, default=dict, server_default="{}")
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class CallLog(IdMixin, Base):
    __tablename__ = "call_logs"
    __table_args__ = (
        check_in("disposition", CallDisposition, nullable=False),
        check_in("direction", CallDirection, nullable=False),
        CheckConstraint("duration_seconds >= 0", name="duration_nonneg"),
        Index("ix_call_logs_org_called", "organization_id", "called_at"),
        Index("ix_call_logs_org_disposition", "organization_id", "disposition"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    prospect_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("prospects.id", ondelete="CASCADE"), index=True
    )
    deal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"), index=True)
    activity_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("activities.id", ondelete="SET NULL"))
    direction: Mapped[str] = mapped_column(Text, default=CallDirection.outbound, server_default="outbound")
    disposition: Mapped[str] = mapped_column(Text)
    duration_seconds: Mapped[int] = mapped_column(default=0, server_default="0")
    notes: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text)
    phone_number: Mapped[str | None] = mapped_column(Text)
    called_at: Mapped[datetime] = mapped_column(server_default=func.now())
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

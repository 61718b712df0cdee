"""A rep's to-do: calls, LinkedIn touches, SMS without Twilio and generic tasks."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin, TimestampMixin
from serving.core.enums import check_in


class TaskType(StrEnum):
    call = "call"
    linkedin = "linkedin"
    sms = "sms"
    email = "email"
    task = "task"


class TaskStatus(StrEnum):
    pending = "pending"
    completed = "completed"
    skipped = "skipped"


class TaskOutcome(StrEnum):
    completed = "completed"
    connected = "connected"
    voicemail = "voicemail"
    no_answer = "no_answer"
    busy = "busy"
    wrong_number = "wrong_number"
    meeting_booked = "meeting_booked"
    not_interested = "not_interested"
    sent = "sent"
    skipped = "skipped"


class Task(IdMixin, TimestampMixin, Base):
    __tablename__ = "tasks"
    __table_args__ = (
        check_in("type", TaskType, nullable=False),
        check_in("status", TaskStatus, nullable=False),
        check_in("outcome", TaskOutcome),
        Index("ix_tasks_queue", "user_id", "due_at", postgresql_where=text("status = 'pending'")),
        Index("ix_tasks_org_status_due", "organization_id", "status", "due_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    prospect_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("prospects.id", ondelete="CASCADE"), index=True
    )
    cadence_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cadences.id", ondelete="SET NULL"))
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cadence_enrollments.id", ondelete="SET NULL")
    )
    step_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cadence_steps.id", ondelete="SET NULL"))
    type: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(Text, default=TaskStatus.pending, server_default="pending")
    outcome: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None]

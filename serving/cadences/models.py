"""Cadences, their steps and A/B variants, enrollments and the record of each executed step."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin, TimestampMixin
from serving.core.enums import check_in


class StepType(StrEnum):
    email = "email"
    call = "call"
    linkedin = "linkedin"
    sms = "sms"
    task = "task"


class EnrollmentStatus(StrEnum):
    active = "active"
    paused = "paused"
    completed = "completed"
    removed = "removed"


class StepRunStatus(StrEnum):
    email_queued = "email_queued"
    task_created = "task_created"
    sms_sent = "sms_sent"
    skipped = "skipped"
    suppressed = "suppressed"


class Cadence(IdMixin, TimestampMixin, Base):
    __tablename__ = "cadences"
    __table_args__ = (Index("ix_cadences_org_created", "organization_id", "created_at"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true", index=True)
    settings: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")


class CadenceStep(IdMixin, TimestampMixin, Base):
    __tablename__ = "cadence_steps"
    __table_args__ = (
        UniqueConstraint("cadence_id", "step_number"),
        check_in("type", StepType, nullable=False),
        CheckConstraint("delay_days >= 0 and delay_hours >= 0", name="delay_nonneg"),
        CheckConstraint("step_number >= 1", name="step_number_positive"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    cadence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cadences.id", ondelete="CASCADE"))
    step_number: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(Text)
    delay_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    delay_hours: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("email_templates.id", ondelete="SET NULL")
    )
    subject: Mapped[str | None] = mapped_column(Text)
    content: Mapped[str | None] = mapped_column(Text)
    conditions: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")


class CadenceStepVariant(IdMixin, Base):
    """An A/B variant of an email step; enrollments are split by weight."""

    __tablename__ = "cadence_step_variants"
    __table_args__ = (
        UniqueConstraint("step_id", "name"),
        CheckConstraint("weight > 0", name="weight_positive"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    step_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cadence_steps.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text)
    weight: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("email_templates.id", ondelete="SET NULL")
    )
    subject: Mapped[str | None] = mapped_column(Text)
    content: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class CadenceEnrollment(IdMixin, TimestampMixin, Base):
    __tablename__ = "cadence_enrollments"
    __table_args__ = (
        UniqueConstraint("cadence_id", "prospect_id"),
        check_in("status", EnrollmentStatus, nullable=False),
        Index("ix_cadence_enrollments_due", "next_run_at", postgresql_where=text("status = 'active'")),
        Index("ix_cadence_enrollments_org_status", "organization_id", "status"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    cadence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cadences.id", ondelete="CASCADE"), index=True)
    prospect_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("prospects.id", ondelete="CASCADE"), index=True)
    enrolled_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(Text, default=EnrollmentStatus.active, server_default="active")
    pause_reason: Mapped[str | None] = mapped_column(Text)
    next_step_number: Mapped[int | None] = mapped_column(Integer)
    next_run_at: Mapped[datetime | None]
    last_step_at: Mapped[datetime | None]
    enrolled_at: Mapped[datetime] = mapped_column(server_default=func.now())
    paused_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class CadenceStepRun(IdMixin, Base):
    """One executed step of one enrollment; the unique key makes a step run at most once."""

    __tablename__ = "cadence_step_runs"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "step_id"),
        check_in("status", StepRunStatus, nullable=False),
        Index("ix_cadence_step_runs_step", "step_id", "variant_id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    enrollment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cadence_enrollments.id", ondelete="CASCADE"))
    step_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cadence_steps.id", ondelete="CASCADE"))
    variant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cadence_step_variants.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    email_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("emails.id", ondelete="SET NULL"))
    task_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    executed_at: Mapped[datetime]

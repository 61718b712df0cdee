"""The BDR agent's tables: its configuration, its work (tasks, executions), what it knows (context memory), what it
did (activities), why (decisions), what waits for a human (approvals) and what it handed over (handoffs)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin, TimestampMixin
from serving.core.enums import check_in


class ApprovalMode(StrEnum):
    all = "all"
    first_touch = "first_touch"
    auto_above_confidence = "auto_above_confidence"


class ApprovalStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    rejected = "rejected"


class HandoffStatus(StrEnum):
    pending = "pending"
    accepted = "accepted"


class TaskStatus(StrEnum):
    done = "done"
    skipped = "skipped"
    failed = "failed"


def _org() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))


def _prospect(nullable: bool = False) -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("prospects.id", ondelete="CASCADE"), nullable=nullable)


class BdrAgentConfig(IdMixin, TimestampMixin, Base):
    __tablename__ = "bdr_agent_configs"
    __table_args__ = (UniqueConstraint("organization_id"), check_in("approval_mode", ApprovalMode, nullable=False))

    organization_id: Mapped[uuid.UUID] = _org()
    enabled: Mapped[bool] = mapped_column(default=False, server_default="false")
    # whose name the agent's drafts and e-mails go out under (the admin who last saved the configuration)
    acting_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approval_mode: Mapped[str] = mapped_column(Text, default=ApprovalMode.all, server_default="all")
    # discovery, fit, routing, caps, working hours, qualification, workflow: validated by schemas.AgentSettings
    settings: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")


class BdrTask(IdMixin, TimestampMixin, Base):
    """One step of the workflow for one prospect; `step_key` makes re-running a step a no-op."""

    __tablename__ = "bdr_tasks"
    __table_args__ = (UniqueConstraint("organization_id", "step_key"), check_in("status", TaskStatus, nullable=False),
                      Index("ix_bdr_tasks_org_created", "organization_id", "created_at"))

    organization_id: Mapped[uuid.UUID] = _org()
    prospect_id: Mapped[uuid.UUID] = _prospect()
    step: Mapped[str] = mapped_column(Text)
    step_key: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    result: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")


class BdrActivity(IdMixin, Base):
    __tablename__ = "bdr_activities"
    __table_args__ = (Index("ix_bdr_activities_prospect", "prospect_id", "occurred_at"),
                      Index("ix_bdr_activities_org_kind", "organization_id", "kind", "occurred_at"))

    organization_id: Mapped[uuid.UUID] = _org()
    prospect_id: Mapped[uuid.UUID] = _prospect()
    kind: Mapped[str] = mapped_column(Text)  # email_queued, email_sent, reply_received, qualified, handed_off
    detail: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    occurred_at: Mapped[datetime]


class BdrContextMemory(IdMixin, Base):
    __tablename__ = "bdr_context_memory"
    __table_args__ = (UniqueConstraint("prospect_id", "source", "fact"),)

    organization_id: Mapped[uuid.UUID] = _org()
    prospect_id: Mapped[uuid.UUID] = _prospect()
    fact: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    as_of: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class BdrDecision(IdMixin, Base):
    """Why the agent did what it did: the inputs it saw, the options, the choice, the reason and the outcome."""

    __tablename__ = "bdr_decisions"
    __table_args__ = (Index("ix_bdr_decisions_prospect", "prospect_id", "created_at"),
                      Index("ix_bdr_decisions_org_created", "organization_id", "created_at"))

    organization_id: Mapped[uuid.UUID] = _org()
    prospect_id: Mapped[uuid.UUID | None] = _prospect(nullable=True)
    step: Mapped[str] = mapped_column(Text)
    inputs: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    options: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    chosen: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    outcome: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    created_at: Mapped[datetime]
    # the order the agent decided in: several decisions share one (frozen) `created_at` within a step
    seq: Mapped[int] = mapped_column(BigInteger, Identity())


class BdrHandoff(IdMixin, TimestampMixin, Base):
    __tablename__ = "bdr_handoffs"
    __table_args__ = (check_in("status", HandoffStatus, nullable=False),
                      Index("ix_bdr_handoffs_org_created", "organization_id", "created_at"),
                      Index("ix_bdr_handoffs_prospect", "prospect_id"))

    organization_id: Mapped[uuid.UUID] = _org()
    prospect_id: Mapped[uuid.UUID] = _prospect()
    to_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(Text, default=HandoffStatus.pending, server_default="pending")
    summary: Mapped[str] = mapped_column(Text)
    framework: Mapped[str] = mapped_column(Text)
    qualification: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")  # criterion → evidence
    conversation: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    accepted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    accepted_at: Mapped[datetime | None]


class BdrApprovalQueue(IdMixin, TimestampMixin, Base):
    __tablename__ = "bdr_approval_queue"
    __table_args__ = (check_in("status", ApprovalStatus, nullable=False),
                      Index("ix_bdr_approval_queue_org_created", "organization_id", "created_at"),
                      Index("ix_bdr_approval_queue_draft", "draft_id"))

    organization_id: Mapped[uuid.UUID] = _org()
    prospect_id: Mapped[uuid.UUID] = _prospect()
    draft_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ai_email_drafts.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(Text)  # first_touch, follow_up, answer
    status: Mapped[str] = mapped_column(Text, default=ApprovalStatus.pending, server_default="pending")
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    email_id: Mapped[uuid.UUID | None]
    # the messaging variant the draft was written with (the bandit's arm), credited when it is sent
    variant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("bdr_message_variants.id", ondelete="SET NULL"))


class BdrWorkflowExecution(IdMixin, TimestampMixin, Base):
    __tablename__ = "bdr_workflow_executions"
    __table_args__ = (Index("ix_bdr_workflow_executions_org_created", "organization_id", "created_at"),)

    organization_id: Mapped[uuid.UUID] = _org()
    trigger: Mapped[str] = mapped_column(Text)  # run, schedule, reply
    steps: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")  # what each step did
    finished_at: Mapped[datetime | None]


class BdrPerformanceMetric(IdMixin, Base):
    __tablename__ = "bdr_performance_metrics"
    __table_args__ = (UniqueConstraint("organization_id", "day"),)

    organization_id: Mapped[uuid.UUID] = _org()
    day: Mapped[date]
    contacted: Mapped[int] = mapped_column(default=0, server_default="0")
    replies: Mapped[int] = mapped_column(default=0, server_default="0")
    handoffs: Mapped[int] = mapped_column(default=0, server_default="0")
    meetings: Mapped[int] = mapped_column(default=0, server_default="0")


class VariantStatus(StrEnum):
    active = "active"
    paused = "paused"


class BdrMessageVariant(IdMixin, TimestampMixin, Base):
    """A messaging strategy the agent tests (an arm of its bandit): the writer's tone and instructions. Its sends
    and replies are counted from `bdr_activities` (each touch records its variant), not stored here."""

    __tablename__ = "bdr_message_variants"
    __table_args__ = (UniqueConstraint("organization_id", "name"), check_in("status", VariantStatus, nullable=False))

    organization_id: Mapped[uuid.UUID] = _org()
    name: Mapped[str] = mapped_column(Text)
    tone: Mapped[str | None] = mapped_column(Text)
    instructions: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[str] = mapped_column(Text, default=VariantStatus.active, server_default="active")
    # set by the learning batch once one variant is the best with enough sends behind every variant
    winner_at: Mapped[datetime | None]


class BdrPolicyBacktest(IdMixin, TimestampMixin, Base):
    """What the agent's policy (a configuration's settings) would have done on the organization's history, and
    whether an admin accepted that report: sending without review needs an accepted backtest of the settings."""

    __tablename__ = "bdr_policy_backtests"
    __table_args__ = (Index("ix_bdr_policy_backtests_org_created", "organization_id", "created_at"),
                      Index("ix_bdr_policy_backtests_org_hash", "organization_id", "settings_hash"))

    organization_id: Mapped[uuid.UUID] = _org()
    days: Mapped[int]
    settings: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    settings_hash: Mapped[str] = mapped_column(Text)
    report: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    accepted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    accepted_at: Mapped[datetime | None]

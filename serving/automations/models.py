"""Flows (seed 5.2, issue 17 §3): an organization's integration flows (a trigger and steps, versioned) and their
executions with a per-step log. Both are tenant tables (row-level security)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin
from serving.core.enums import check_in


class TriggerType(StrEnum):
    webhook = "webhook"
    schedule = "schedule"
    manual = "manual"
    record_change = "record_change"


class ExecutionStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class IntegrationFlow(IdMixin, Base):
    __tablename__ = "integration_flows"
    __table_args__ = (
        check_in("trigger_type", TriggerType, nullable=False),
        UniqueConstraint("organization_id", "name"),
        # the scheduler's question: which enabled schedule flows are due
        Index("ix_integration_flows_due", "next_run_at",
              postgresql_where=text("enabled and trigger_type = 'schedule'")),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=False, server_default="false")
    # why the platform switched the flow off (a record_change loop); cleared when it is enabled again
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    trigger_type: Mapped[str] = mapped_column(Text)
    # the validated trigger ({type, ...its config}) and steps, camelCase as in the API and the YAML
    trigger: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    steps: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    # raised by every change of the definition; an execution records the version it ran
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # webhook trigger: sha256 of the secret token in the hook URL (the token is shown at creation or rotation only)
    hook_token_hash: Mapped[str | None] = mapped_column(Text)
    # schedule trigger: the next cron time (UTC), kept while the flow is enabled
    next_run_at: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())

    @property
    def has_hook_token(self) -> bool:
        return self.hook_token_hash is not None


class IntegrationFlowExecution(IdMixin, Base):
    __tablename__ = "integration_flow_executions"
    __table_args__ = (
        check_in("status", ExecutionStatus, nullable=False),
        check_in("trigger_type", TriggerType, nullable=False),
        # a domain event starts a flow once, however often it is delivered
        UniqueConstraint("flow_id", "source_event_id"),
        Index("ix_integration_flow_executions_flow_created", "flow_id", "created_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    flow_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("integration_flows.id", ondelete="CASCADE"))
    flow_version: Mapped[int] = mapped_column(Integer)
    # the definition as it was when the execution was queued (the flow may change while it waits)
    definition: Mapped[dict] = mapped_column(JSONB)
    trigger_type: Mapped[str] = mapped_column(Text)
    trigger_payload: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    source_event_id: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(Text, default=ExecutionStatus.queued, server_default="queued")
    # one entry per step attempt: {path, stepId, type, attempt, input, output, error, durationMs, startedAt}
    log: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    error: Mapped[str | None] = mapped_column(Text)
    # runs of the worker job (a crash mid-execution runs it again)
    runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    started_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

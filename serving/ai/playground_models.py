"""The AI playground: experiments (arms run side by side on one prospect's context) and agent sessions."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, Numeric, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin, TimestampMixin


class AiPlaygroundExperiment(IdMixin, TimestampMixin, Base):
    """One comparison: a prompt template with {{variables}}, a prospect's context, and arms (provider, model,
    prompt variant). `runs` keeps every run's outputs, newest last: the experiment's history."""

    __tablename__ = "ai_playground_experiments"
    __table_args__ = (Index("ix_ai_playground_experiments_org_created", "organization_id", "created_at"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(Text)
    task: Mapped[str] = mapped_column(Text, default="draft", server_default="draft")
    prompt_template: Mapped[str] = mapped_column(Text)
    variables: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    prospect_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("prospects.id", ondelete="SET NULL"))
    # [{provider, model, prompt}] — provider "offline" is the deterministic writer; prompt overrides the template
    arms: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    # [{runAt, outputs: [{arm, provider, model, subject, text, inputTokens, outputTokens, costUsd, latencyMs,
    #   check, rating, score, error}]}]
    runs: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    notes: Mapped[str | None] = mapped_column(Text)


class AiAgentSession(IdMixin, TimestampMixin, Base):
    """An interaction log between an agent (or a person in the playground) and the models: the messages, the
    tool calls and the totals, appended as the session goes."""

    __tablename__ = "ai_agent_sessions"
    __table_args__ = (Index("ix_ai_agent_sessions_org_created", "organization_id", "created_at"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    agent: Mapped[str] = mapped_column(Text)  # "playground", later "bdr"
    experiment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("ai_playground_experiments.id", ondelete="SET NULL"))
    prospect_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("prospects.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(Text, default="open", server_default="open")
    messages: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    tool_calls: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    input_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    output_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(14, 6), default=Decimal(0), server_default="0")

"""Tables of the lead-scoring platform: registered models, the predictions log, daily score history and
the teams' custom rule sets."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin, TimestampMixin
from serving.core.enums import check_in, check_score

LEAD_SCORING = "lead_scoring"


class ModelStatus(StrEnum):
    candidate = "candidate"  # registered, never champion
    champion = "champion"
    retired = "retired"  # was champion once


class PredictionSource(StrEnum):
    batch = "batch"
    realtime = "realtime"


class ScoreTier(StrEnum):
    low = "low"
    warm = "warm"
    hot = "hot"
    burning = "burning"


class RuleMode(StrEnum):
    ml_only = "ml_only"
    rules_only = "rules_only"
    blend = "blend"


class MlModel(IdMixin, Base):
    """One registered model version per organization; the artifact lives under REVORC_HOME."""

    __tablename__ = "ml_models"
    __table_args__ = (
        UniqueConstraint("organization_id", "name", "version"),
        check_in("status", ModelStatus, nullable=False),
        # at most one champion per organization and model name
        Index("uq_ml_models_champion", "organization_id", "name", unique=True,
              postgresql_where=text("is_champion")),
        Index("ix_ml_models_org_registered", "organization_id", "registered_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(Text, default=LEAD_SCORING, server_default=LEAD_SCORING)
    version: Mapped[str] = mapped_column(Text)
    version_number: Mapped[int | None] = mapped_column(Integer)
    family: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, default=ModelStatus.candidate, server_default="candidate")
    is_champion: Mapped[bool] = mapped_column(default=False, server_default="false")
    metrics: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    model_card: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    # the promotion decision at registration (holdout comparison with the then champion)
    evaluation: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    # histogram of integer scores 0..100 on the training window (reference for the drift check)
    score_distribution: Mapped[list | None] = mapped_column(JSONB)
    champion_history: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    artifact_path: Mapped[str] = mapped_column(Text)
    artifact_sha256: Mapped[str] = mapped_column(Text)
    data_window: Mapped[dict | None] = mapped_column(JSONB)
    trained_at: Mapped[datetime | None]
    registered_at: Mapped[datetime] = mapped_column(server_default=func.now())
    promoted_at: Mapped[datetime | None]


class AiPrediction(Base):
    """Every batch or real-time prediction (seed 3.3 `ai_predictions`)."""

    __tablename__ = "ai_predictions"
    __table_args__ = (
        check_in("source", PredictionSource, nullable=False),
        check_in("tier", ScoreTier),
        check_score("score"),
        check_score("ml_score"),
        Index("ix_ai_predictions_org_created", "organization_id", "created_at"),
        Index("ix_ai_predictions_prospect_created", "prospect_id", "created_at"),
        Index("ix_ai_predictions_org_model", "organization_id", "model_version"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4,
                                          server_default=text("gen_random_uuid()"))
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    prospect_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("prospects.id", ondelete="SET NULL"))
    prediction_type: Mapped[str] = mapped_column(Text, default=LEAD_SCORING, server_default=LEAD_SCORING)
    model_version: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    inputs_hash: Mapped[str] = mapped_column(Text)
    score: Mapped[int] = mapped_column(Integer)  # the final score (after the team's rules)
    ml_score: Mapped[int | None] = mapped_column(Integer)
    probability: Mapped[float | None] = mapped_column(Float)
    tier: Mapped[str | None] = mapped_column(Text)
    top_factors: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class LeadScoreHistory(Base):
    """One row per prospect per day: the score it had that day (the last scoring of the day wins)."""

    __tablename__ = "lead_score_history"
    __table_args__ = (
        check_score("score"),
        check_score("ml_score"),
        Index("ix_lead_score_history_org_day", "organization_id", "score_date"),
    )

    prospect_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("prospects.id", ondelete="CASCADE"),
                                                   primary_key=True)
    score_date: Mapped[date] = mapped_column(primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    score: Mapped[int] = mapped_column(Integer)
    ml_score: Mapped[int | None] = mapped_column(Integer)
    tier: Mapped[str | None] = mapped_column(Text)
    model_version: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ScoringRuleSet(IdMixin, TimestampMixin, Base):
    """A team's custom scoring model (seed 3.3): rules JSON validated by `models.lead_scoring.rules.RuleSet`."""

    __tablename__ = "scoring_rule_sets"
    __table_args__ = (
        UniqueConstraint("organization_id", "team_id"),
        check_in("mode", RuleMode, nullable=False),
        CheckConstraint("ml_weight >= 0 and ml_weight <= 1", name="ml_weight_0_1"),
        check_score("score_threshold"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(Text, default=RuleMode.ml_only, server_default="ml_only")
    ml_weight: Mapped[float] = mapped_column(Float, default=0.5, server_default="0.5")
    rules: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")  # the whole RuleSet JSON
    # threshold automation: crossing it (previous score below, new at/above) notifies the owner
    score_threshold: Mapped[int | None] = mapped_column(Integer)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

"""Request and response bodies of /scoring: real-time score, model versions, team rule sets."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, SkipValidation, model_validator

from models.lead_scoring.features import (
    DEPARTMENTS,
    EMPLOYEE_BANDS,
    INTENT_TIERS,
    INTENT_TRENDS,
    REVENUE_BANDS,
    SENIORITIES,
)
from models.lead_scoring.rules import RuleSet
from serving.core.schemas import ApiModel, InputModel
from serving.core.validation import BoundedFloat

Count = BoundedFloat | None  # finite and bounded: a 1e308 count overflowed the model to NaN


class LeadFeatures(InputModel):
    """One prospect's features, as in `analytics.ml_lead_features` (see models/lead_scoring/README.md).

    Every field may be omitted (the model treats it as unknown), but at least one must be given.
    Post-outcome fields (status, priority score, …) are refused as unknown fields.
    """

    title_seniority: Literal[SENIORITIES] | None = None
    department: Literal[DEPARTMENTS] | None = None
    industry: str | None = Field(None, max_length=100)
    employee_band: Literal[EMPLOYEE_BANDS] | None = None
    revenue_band: Literal[REVENUE_BANDS] | None = None
    emails_sent: Count = Field(None, ge=0, description="emails sent in the last 90 days")
    emails_replied: Count = Field(None, ge=0)
    emails_opened: Count = Field(None, ge=0)
    emails_clicked: Count = Field(None, ge=0)
    meetings_held: Count = Field(None, ge=0)
    web_sessions: Count = Field(None, ge=0, description="website sessions in the last 30 days")
    days_since_last_engagement: Count = Field(None, ge=0, description="omit if never engaged")
    intent_score: Count = Field(None, ge=0, le=100)
    intent_tier: Literal[INTENT_TIERS] | None = None
    intent_trend: Literal[INTENT_TRENDS] | None = None
    intent_spike: bool | None = None
    technology_count: Count = Field(None, ge=0)

    @model_validator(mode="after")
    def _some_feature(self) -> LeadFeatures:
        if all(value is None for value in self.model_dump().values()):
            raise ValueError("at least one feature value is required")
        return self


class ScoreRequest(InputModel):
    features: LeadFeatures
    prospect_id: uuid.UUID | None = Field(None, description="logged with the prediction; must be visible to you")
    title: str | None = Field(None, max_length=200, description="job title, for rules that match on it")
    team_id: uuid.UUID | None = Field(None, description="whose rule set applies; default: your team")
    explain: bool = Field(True, description="return the top factors (costs a few ms)")


class Factor(ApiModel):
    factor: str
    impact: int
    text: str | None = None
    feature: str | None = None


class ScoreResult(ApiModel):
    prediction_id: uuid.UUID
    score: int
    ml_score: int
    probability: float
    tier: str
    mode: str
    model_version: str
    inputs_hash: str
    baseline: int | None = None
    top_factors: list[Factor] = []
    other_factors_impact: int | None = None


class ModelVersionOut(ApiModel):
    version: str
    family: str | None
    status: str
    is_champion: bool
    metrics: dict[str, Any]
    data_window: dict[str, Any] | None
    evaluation: dict[str, Any]
    trained_at: datetime | None
    registered_at: datetime
    promoted_at: datetime | None
    champion_history: list[dict[str, Any]]


class PromoteRequest(InputModel):
    reason: str | None = Field(None, max_length=500)


class PromoteResult(ApiModel):
    version: str
    action: Literal["promote", "rollback", "unchanged"]
    previous_champion: str | None
    champion: str


class RuleSetIn(InputModel):
    """The team's custom scoring model; `ruleSet` is validated by the library's `RuleSet`."""

    # Documented as the library's RuleSet, validated by the router with the library's messages (SkipValidation
    # keeps the raw dict for that), so the OpenAPI document shows the shape a valid rule set has.
    rule_set: SkipValidation[RuleSet] = Field(
        description="name, mode (ml_only|rules_only|blend), ml_weight, base_points, rules")
    score_threshold: int | None = Field(None, ge=0, le=100,
                                        description="notify the owner when a prospect's score crosses it")


class RuleSetOut(ApiModel):
    team_id: uuid.UUID
    name: str
    mode: str
    ml_weight: float
    rule_set: dict[str, Any]
    score_threshold: int | None
    updated_at: datetime | None = None
    is_default: bool = False

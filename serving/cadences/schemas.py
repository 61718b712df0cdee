"""Cadence, step, variant and enrollment bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from serving.cadences.models import StepType
from serving.cadences.scheduling import CONDITIONS
from serving.core.schemas import ApiModel, InputModel, Name


class VariantIn(InputModel):
    name: str = Field(min_length=1, max_length=50)
    weight: int = Field(default=1, ge=1, le=1000)
    template_id: uuid.UUID | None = None
    subject: str | None = Field(default=None, max_length=998)
    content: str | None = Field(default=None, max_length=500_000)


class StepIn(InputModel):
    step_number: int | None = Field(default=None, ge=1, le=100)
    type: StepType
    delay_days: int = Field(default=0, ge=0, le=365)
    delay_hours: int = Field(default=0, ge=0, le=24 * 365)
    template_id: uuid.UUID | None = None
    subject: str | None = Field(default=None, max_length=998)
    content: str | None = Field(default=None, max_length=500_000)
    conditions: dict[str, Any] = Field(default_factory=dict)
    variants: list[VariantIn] = Field(default_factory=list, max_length=10)

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            return value
        unknown = set(value) - {"if", "else"}
        if unknown:
            raise ValueError(f"unknown condition keys {sorted(unknown)}; use `if` and `else`")
        if value.get("if") not in CONDITIONS:
            raise ValueError(f"`if` must be one of {sorted(CONDITIONS)}")
        other = value.get("else", "skip")
        if other not in ("skip", "exit") and not (
            isinstance(other, dict) and isinstance(other.get("goto"), int)
        ):
            raise ValueError("`else` must be 'skip', 'exit' or {\"goto\": stepNumber}")
        return value

    @model_validator(mode="after")
    def _email_content(self) -> StepIn:
        if self.type == StepType.email and not (self.template_id or self.content or self.variants):
            raise ValueError("an email step needs a templateId, content or variants")
        if self.variants and self.type != StepType.email:
            raise ValueError("only email steps have A/B variants")
        if len({v.name for v in self.variants}) != len(self.variants):
            raise ValueError("variant names must be unique")
        return self


class CadenceIn(InputModel):
    name: Name
    description: str | None = Field(default=None, max_length=5000)
    is_active: bool = True
    team_id: uuid.UUID | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    steps: list[StepIn] = Field(default_factory=list, max_length=50)


class CadenceUpdate(InputModel):
    name: Name | None = None
    description: str | None = Field(default=None, max_length=5000)
    is_active: bool | None = None
    settings: dict[str, Any] | None = None


class VariantOut(ApiModel):
    id: uuid.UUID
    name: str
    weight: int
    template_id: uuid.UUID | None
    subject: str | None
    content: str | None


class StepOut(ApiModel):
    id: uuid.UUID
    step_number: int
    type: str
    delay_days: int
    delay_hours: int
    template_id: uuid.UUID | None
    subject: str | None
    content: str | None
    conditions: dict[str, Any]
    variants: list[VariantOut] = Field(default_factory=list)


class CadenceOut(ApiModel):
    id: uuid.UUID
    name: str
    description: str | None
    is_active: bool
    team_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    steps: list[StepOut] = Field(default_factory=list)


class EnrollIn(InputModel):
    prospect_ids: list[uuid.UUID] = Field(min_length=1, max_length=10_000)


class EnrollResult(ApiModel):
    prospect_id: uuid.UUID
    result: Literal["enrolled", "already_enrolled", "suppressed", "missing_email", "not_found"]
    enrollment_id: uuid.UUID | None = None
    reason: str | None = None


class EnrollOut(ApiModel):
    results: list[EnrollResult]
    counts: dict[str, int]


class EnrollmentOut(ApiModel):
    id: uuid.UUID
    cadence_id: uuid.UUID
    prospect_id: uuid.UUID
    status: str
    pause_reason: str | None
    next_step_number: int | None
    next_run_at: datetime | None
    last_step_at: datetime | None
    enrolled_at: datetime
    paused_at: datetime | None
    completed_at: datetime | None


class StepStats(ApiModel):
    step_id: uuid.UUID
    step_number: int
    type: str
    runs: dict[str, int]
    emails: dict[str, int]
    variants: list[dict[str, Any]] = Field(default_factory=list)


class CadenceAnalytics(ApiModel):
    cadence_id: uuid.UUID
    enrollments: dict[str, int]
    emails: dict[str, int]
    rates: dict[str, float]
    steps: list[StepStats]

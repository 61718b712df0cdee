"""The playground's and template learning's API shapes (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from serving.core.schemas import ApiModel, InputModel

Provider = Literal["offline", "openai", "anthropic", "gemini", "local"]


class ArmIn(InputModel):
    provider: Provider
    model: str | None = Field(None, max_length=100, description="a model from GET /ai/models; none for offline")
    prompt: str | None = Field(None, max_length=20_000, description="this arm's own prompt; default: the template")
    seed: int = Field(0, ge=0, le=1_000_000, description="offline arm: the writer's seed")

    @model_validator(mode="after")
    def _model(self) -> ArmIn:
        if self.provider != "offline" and not self.model:
            raise ValueError("a model arm needs a model")
        return self


class ExperimentIn(InputModel):
    name: str = Field(min_length=1, max_length=200, pattern=r"\S")
    task: Literal["draft", "rewrite"] = "draft"
    prompt_template: str = Field(min_length=1, max_length=20_000,
                                 description="Mustache: {{firstName}}, {{company}}, {{facts}}, your variables")
    variables: dict[str, str] = Field(default_factory=dict, max_length=50)
    prospect_id: uuid.UUID | None = None
    arms: list[ArmIn] = Field(min_length=1, max_length=6)
    notes: str | None = Field(None, max_length=5000)


class ExperimentPatch(InputModel):
    name: str | None = Field(None, min_length=1, max_length=200, pattern=r"\S")
    prompt_template: str | None = Field(None, min_length=1, max_length=20_000)
    variables: dict[str, str] | None = Field(None, max_length=50)
    prospect_id: uuid.UUID | None = None
    arms: list[ArmIn] | None = Field(None, min_length=1, max_length=6)
    notes: str | None = Field(None, max_length=5000)


class ExperimentOut(ApiModel):
    id: uuid.UUID
    name: str
    task: str
    prompt_template: str
    variables: dict[str, str]
    prospect_id: uuid.UUID | None
    arms: list[dict[str, Any]]
    runs: list[dict[str, Any]] = Field(description="every run, oldest first: {runAt, outputs: [...]}")
    notes: str | None
    summary: list[dict[str, Any]] = Field(description="per provider/model: cost, latency, pass rate, ratings")
    created_at: datetime
    updated_at: datetime


class RunOut(ApiModel):
    run_at: str
    outputs: list[dict[str, Any]]


class RatingIn(InputModel):
    thumbs: Literal[1, -1] | None = Field(None, description="+1 or -1; null clears it")
    score: int | None = Field(None, ge=1, le=5)


class ExportIn(InputModel):
    name: str = Field(min_length=1, max_length=200, pattern=r"\S")
    category: str | None = Field(None, max_length=100)


class ExportOut(ApiModel):
    template_id: uuid.UUID
    name: str
    subject: str
    text: str | None
    variables_used: list[str]


class SuggestionOut(ApiModel):
    id: uuid.UUID
    variant_name: str
    step_id: uuid.UUID
    template_id: uuid.UUID
    template_name: str
    proposed: dict[str, Any]
    evidence: dict[str, Any]


class AcceptIn(InputModel):
    name: str | None = Field(None, min_length=1, max_length=200, pattern=r"\S")

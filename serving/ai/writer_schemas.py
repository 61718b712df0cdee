"""The AI writer's API shapes (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from serving.core.schemas import ApiModel, InputModel

Tone = Literal["friendly", "formal", "direct"]
Length = Literal["short", "medium", "long"]
Persona = Literal["executive", "manager", "practitioner"]
Varied = Literal["subject", "opener", "cta"]


class GenerateIn(InputModel):
    prospect_id: uuid.UUID
    mailbox_id: uuid.UUID | None = Field(None, description="the mailbox to send from; default: the sender address")
    tone: Tone = "friendly"
    length: Length = "medium"
    persona: Persona | None = Field(None, description="default: from the prospect's title and seniority")
    language: str = Field("en", min_length=2, max_length=5, pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    instructions: str | None = Field(None, max_length=1000, description="your own guidance to the writer")
    seed: int = Field(0, ge=0, le=1_000_000, description="offline writer: another seed, another phrasing")
    model: str | None = Field(None, max_length=100, description="a model from GET /ai/models; default: routed")


class VariantsIn(GenerateIn):
    n: int = Field(3, ge=2, le=5)
    vary: list[Varied] = Field(default_factory=lambda: ["subject", "opener", "cta"], min_length=1)


class CheckIn(InputModel):
    prospect_id: uuid.UUID
    mailbox_id: uuid.UUID | None = None
    subject: str = Field(max_length=500)
    body: str = Field(min_length=1, max_length=20_000)
    length: Length = "medium"
    to_email: str | None = Field(None, max_length=320)


class CheckFailureOut(ApiModel):
    code: str
    message: str
    evidence: str | None


class CheckOut(ApiModel):
    passed: bool
    failures: list[CheckFailureOut]
    metrics: dict[str, Any]


class FactOut(ApiModel):
    key: str
    value: str
    source: str
    as_of: str | None
    external: bool
    suspect: bool = False


class DraftPatch(InputModel):
    subject: str | None = Field(None, max_length=500)
    body: str | None = Field(None, min_length=1, max_length=20_000)


class DraftOut(ApiModel):
    id: uuid.UUID
    prospect_id: uuid.UUID
    user_id: uuid.UUID | None
    mailbox_id: uuid.UUID | None
    subject: str
    body: str
    to_email: str
    from_email: str
    status: str
    check: CheckOut
    facts: list[FactOut]
    settings: dict[str, Any]
    variant_group_id: uuid.UUID | None
    variant: dict[str, Any]
    provider: str
    model: str
    prompt_version: str
    cost_usd: Decimal
    generation_id: uuid.UUID | None
    email_id: uuid.UUID | None
    approved_at: datetime | None
    sent_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row) -> DraftOut:
        return cls(
            id=row.id, prospect_id=row.prospect_id, user_id=row.user_id, mailbox_id=row.mailbox_id,
            subject=row.subject, body=row.body, to_email=row.to_email, from_email=row.from_email, status=row.status,
            check=CheckOut(**row.check_result), facts=[FactOut(**_snake(f)) for f in row.facts],
            settings=row.settings, variant_group_id=row.variant_group_id, variant=row.variant,
            provider=row.provider, model=row.model, prompt_version=row.prompt_version, cost_usd=row.cost_usd,
            generation_id=row.generation_id, email_id=row.email_id, approved_at=row.approved_at,
            sent_at=row.sent_at, created_at=row.created_at)


def _snake(fact: dict[str, Any]) -> dict[str, Any]:
    return {"key": fact["key"], "value": fact["value"], "source": fact["source"], "as_of": fact.get("asOf"),
            "external": fact.get("external", False), "suspect": fact.get("suspect", False)}


class VariantsOut(ApiModel):
    variant_group_id: uuid.UUID
    drafts: list[DraftOut]

"""Prospect payloads. Scores are computed by the pipelines and are read-only here."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from serving.core.schemas import ApiModel, Email, InputModel, Phone, Url
from serving.prospects.models import IntentTier, ProspectStatus, RelationshipStage

ShortText = Field(default=None, max_length=255)


class ProspectFields(InputModel):
    phone: Phone | None = None
    linkedin_url: Url | None = None
    first_name: str | None = ShortText
    last_name: str | None = ShortText
    title: str | None = ShortText
    company: str | None = ShortText
    department: str | None = ShortText
    seniority: str | None = ShortText
    city: str | None = ShortText
    country: str | None = ShortText
    timezone: str | None = Field(default=None, max_length=64)
    source: str | None = ShortText
    status: ProspectStatus | None = None
    relationship_stage: RelationshipStage | None = None
    owner_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    bdr_assigned: bool | None = None
    enrichment_enabled: bool | None = None
    custom_fields: dict[str, Any] | None = None


class ProspectCreate(ProspectFields):
    email: Email


class ProspectUpdate(ProspectFields):
    email: Email | None = None


class ProspectOut(ApiModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    team_id: uuid.UUID | None
    account_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    email: str
    phone: str | None
    linkedin_url: str | None
    first_name: str | None
    last_name: str | None
    title: str | None
    company: str | None
    department: str | None
    seniority: str | None
    city: str | None
    country: str | None
    timezone: str | None
    source: str | None
    status: str
    relationship_stage: str | None
    priority_score: int | None
    intent_score: int | None
    intent_tier: str | None
    qualification_score: int | None
    bdr_assigned: bool
    enrichment_enabled: bool
    enrichment_data: dict[str, Any]
    ai_insights: dict[str, Any]
    custom_fields: dict[str, Any]
    last_contacted_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ProspectFilters(ApiModel):
    status: list[ProspectStatus] | None = None
    owner_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    intent_tier: list[IntentTier] | None = None
    company: str | None = None
    q: str | None = None
    min_priority_score: int | None = Field(default=None, ge=0, le=100)
    max_priority_score: int | None = Field(default=None, ge=0, le=100)
    min_intent_score: int | None = Field(default=None, ge=0, le=100)
    max_intent_score: int | None = Field(default=None, ge=0, le=100)
    min_qualification_score: int | None = Field(default=None, ge=0, le=100)
    max_qualification_score: int | None = Field(default=None, ge=0, le=100)
    created_after: datetime | None = None
    created_before: datetime | None = None
    last_contacted_after: datetime | None = None
    last_contacted_before: datetime | None = None
    never_contacted: bool | None = Field(default=None, description="true: only prospects never contacted")
    custom_field: list[Annotated[str, Field(max_length=300)]] | None = Field(
        default=None, max_length=10,
        description="`key:value`, repeatable (all must match): the custom field equals the value — text as "
                    "written; `true`/`false` and numbers also match those JSON values")


class ImportRowError(ApiModel):
    row: int = Field(description="line number in the file (the header is line 1)")
    field: str | None
    reason: str
    value: str | None = None


class ImportResult(ApiModel):
    total_rows: int
    created: int
    updated: int
    unchanged: int
    failed: int
    errors: list[ImportRowError]


class InsightFactor(ApiModel):
    factor: str
    impact: int


class ProspectInsights(ApiModel):
    prospect_id: uuid.UUID
    priority_score: int | None
    intent_score: int | None
    intent_tier: str | None
    qualification_score: int | None
    relationship_stage: str | None
    engagement: dict[str, int]
    last_activity_at: datetime | None
    top_factors: list[InsightFactor]
    ai_insights: dict[str, Any]
    model_version: str | None = None
    score_history: list[dict[str, Any]] = []
    # the lead score (0–100, after the team's rules), its tier, the model alone, and how factors add up:
    # score_baseline + Σ top_factors.impact + other_factors_impact == score
    score: int | None = None
    tier: str | None = None
    ml_score: int | None = None
    score_baseline: int | None = None
    other_factors_impact: int | None = None



class ProspectViewFilters(InputModel):
    """The list's filters a saved view keeps (the same names and rules as `GET /prospects`' query)."""

    status: list[ProspectStatus] | None = Field(default=None, max_length=len(ProspectStatus))
    owner_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    intent_tier: list[IntentTier] | None = Field(default=None, max_length=len(IntentTier))
    company: str | None = Field(default=None, max_length=255)
    q: str | None = Field(default=None, max_length=255)
    min_priority_score: int | None = Field(default=None, ge=0, le=100)
    max_priority_score: int | None = Field(default=None, ge=0, le=100)
    min_intent_score: int | None = Field(default=None, ge=0, le=100)
    max_intent_score: int | None = Field(default=None, ge=0, le=100)
    last_contacted_after: datetime | None = None
    last_contacted_before: datetime | None = None
    never_contacted: bool | None = None
    custom_field: list[Annotated[str, Field(max_length=300)]] | None = Field(default=None, max_length=10)
    sort: str | None = Field(default=None, max_length=100)


class SavedViewCreate(InputModel):
    name: str = Field(min_length=1, max_length=100)
    filters: ProspectViewFilters
    shared: bool = Field(default=False, description="visible to everyone in the organization (only its author "
                                                    "and admins change it)")


class SavedViewUpdate(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    filters: ProspectViewFilters | None = None
    shared: bool | None = None


class SavedViewOut(ApiModel):
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    filters: dict[str, Any]
    shared: bool
    mine: bool = False
    created_at: datetime
    updated_at: datetime


class BulkAction(InputModel):
    """One change to many prospects at once, all or nothing."""

    prospect_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)
    action: Literal["assign_owner", "set_status", "delete"]
    owner_id: uuid.UUID | None = Field(default=None, description="assign_owner: the new owner (null unassigns)")
    status: ProspectStatus | None = Field(default=None, description="set_status: the new status")


class BulkResult(ApiModel):
    action: str
    requested: int
    changed: int
    unchanged: int

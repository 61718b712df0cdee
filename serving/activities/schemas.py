"""Activity and call-log payloads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import AliasChoices, Field, field_validator

from serving.activities.models import ActivityType, CallDirection, CallDisposition
from serving.core.schemas import ApiModel, InputModel, Phone, Text

# Recorded by the system (tracking, status changes); people log the rest by hand.
SYSTEM_TYPES = frozenset({
    ActivityType.email_opened, ActivityType.email_clicked, ActivityType.email_bounced,
    ActivityType.email_unsubscribed, ActivityType.status_change,
})
MANUAL_TYPES = frozenset(ActivityType) - SYSTEM_TYPES


def _aware(value: datetime | None) -> datetime | None:
    """Times without a zone are read as UTC, so they mean the same instant on every server."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class ActivityOut(ApiModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    user_id: uuid.UUID | None
    prospect_id: uuid.UUID | None
    account_id: uuid.UUID | None
    deal_id: uuid.UUID | None
    type: str
    subject: str | None
    description: str | None
    # The ORM attribute is `metadata_` (`metadata` is reserved by SQLAlchemy's declarative base).
    metadata_: dict[str, Any] = Field(
        default_factory=dict, validation_alias=AliasChoices("metadata_", "metadata"), serialization_alias="metadata"
    )
    occurred_at: datetime
    created_at: datetime


class ActivityCreate(InputModel):
    type: ActivityType
    subject: str | None = Field(default=None, max_length=500)
    description: Text | None = None
    metadata: dict[str, Any] | None = None
    occurred_at: datetime | None = Field(default=None, description="defaults to now")
    prospect_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = Field(default=None, description="inferred from the prospect or deal if absent")
    deal_id: uuid.UUID | None = None

    @field_validator("type")
    @classmethod
    def _manual(cls, value: ActivityType) -> ActivityType:
        if value in SYSTEM_TYPES:
            allowed = ", ".join(sorted(MANUAL_TYPES))
            raise ValueError(f"'{value.value}' activities are recorded by the system; log one of: {allowed}")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _zone(cls, value: datetime | None) -> datetime | None:
        return _aware(value)


class ActivityFilters(ApiModel):
    type: list[ActivityType] | None = None
    prospect_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = Field(
        default=None, description="the account's own activities and those of its prospects and deals"
    )
    deal_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    occurred_after: datetime | None = None
    occurred_before: datetime | None = None
    q: str | None = Field(default=None, max_length=255)

    @field_validator("occurred_after", "occurred_before")
    @classmethod
    def _zone(cls, value: datetime | None) -> datetime | None:
        return _aware(value)


class CallCreate(InputModel):
    prospect_id: uuid.UUID
    disposition: CallDisposition
    duration_seconds: int = Field(default=0, ge=0, le=86_400)
    notes: Text | None = None
    outcome: str | None = Field(default=None, max_length=255)
    direction: CallDirection = CallDirection.outbound
    called_at: datetime | None = Field(default=None, description="defaults to now")
    deal_id: uuid.UUID | None = None
    phone_number: Phone | None = Field(default=None, description="defaults to the prospect's phone")

    @field_validator("called_at")
    @classmethod
    def _zone(cls, value: datetime | None) -> datetime | None:
        return _aware(value)


class CallOut(ApiModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    user_id: uuid.UUID | None
    prospect_id: uuid.UUID | None
    deal_id: uuid.UUID | None
    activity_id: uuid.UUID | None
    direction: str
    disposition: str
    duration_seconds: int
    notes: str | None
    outcome: str | None
    phone_number: str | None
    called_at: datetime
    created_at: datetime


class CallFilters(ApiModel):
    prospect_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    disposition: list[CallDisposition] | None = None
    direction: CallDirection | None = None
    called_after: datetime | None = None
    called_before: datetime | None = None

    @field_validator("called_after", "called_before")
    @classmethod
    def _zone(cls, value: datetime | None) -> datetime | None:
        return _aware(value)

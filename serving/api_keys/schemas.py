"""API key requests and responses; the secret is returned once, at creation or rotation."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import Field, field_validator

from serving.api_keys.models import ApiKeyEnvironment
from serving.core.permissions import Scope
from serving.core.schemas import ApiModel, InputModel, Name


class ApiKeyCreate(InputModel):
    name: Name
    scopes: list[Scope] = Field(min_length=1)
    environment: ApiKeyEnvironment = ApiKeyEnvironment.live
    expires_at: datetime | None = None

    @field_validator("scopes")
    @classmethod
    def _unique(cls, scopes: list[Scope]) -> list[Scope]:
        return sorted(set(scopes))

    @field_validator("expires_at")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("expiresAt needs a time zone (e.g. 2030-01-01T00:00:00Z)")
            from datetime import UTC

            if value <= datetime.now(UTC):
                raise ValueError("expiresAt must be in the future")
        return value


class ApiKeyOut(ApiModel):
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    environment: str
    status: str
    request_count: int
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class ApiKeyWithSecret(ApiKeyOut):
    key: str | None = Field(description="The secret; shown only in this response (null in an Idempotency-Key "
                                        "replay, since the secret is never stored)")


class DailyUsage(ApiModel):
    date: date
    request_count: int


class ApiKeyUsage(ApiModel):
    id: uuid.UUID
    request_count: int
    last_used_at: datetime | None
    status: str
    daily: list[DailyUsage]

"""Webhook API bodies and answers (camelCase). Event filters name catalogued event types, or `*`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field, field_validator, model_validator

from serving.core.event_catalogue import CATALOGUE
from serving.core.pagination import PaginationMeta
from serving.core.schemas import ApiModel, InputModel

MAX_REPLAY_RANGE_DAYS = 31


def _event_types(value: list[str] | None) -> list[str] | None:
    if value is None:
        return value
    unknown = [t for t in value if t != "*" and t not in CATALOGUE]
    if unknown:
        raise ValueError(f"not catalogued event types: {', '.join(unknown)} (see GET /api/v1/event-types)")
    return list(dict.fromkeys(value))


class EndpointIn(InputModel):
    url: str = Field(min_length=1, max_length=2000, description="http(s) URL of the receiver (public addresses)")
    description: str | None = Field(default=None, max_length=500)
    event_types: list[str] = Field(default_factory=lambda: ["*"], min_length=1, max_length=100,
                                   description="catalogued event types, or `*` for all")
    enabled: bool = True
    batch: bool = Field(default=False, description="send waiting events as one request (a JSON array)")
    batch_max_size: int = Field(default=50, ge=1, le=1000)
    allow_private: bool = Field(default=False, description="admins only, when WEBHOOKS_ALLOW_PRIVATE_TARGETS is on")

    _types = field_validator("event_types")(_event_types)


class EndpointPatch(InputModel):
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    description: str | None = Field(default=None, max_length=500)
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=100)
    batch: bool | None = None
    batch_max_size: int | None = Field(default=None, ge=1, le=1000)
    allow_private: bool | None = None

    _types = field_validator("event_types")(_event_types)


class EndpointOut(ApiModel):
    id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    batch: bool
    batch_max_size: int
    allow_private: bool
    consecutive_failures: int
    previous_secret_expires_at: datetime | None = Field(description="the old secret also signs until then")
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class EndpointCreated(EndpointOut):
    secret: str = Field(description="shown once: store it now (verify deliveries with it)")


class EndpointPage(ApiModel):
    data: list[EndpointOut]
    pagination: PaginationMeta


class RotateIn(InputModel):
    overlap_hours: int = Field(default=24, ge=0, le=168, description="how long the old secret also signs")


class Rotated(ApiModel):
    secret: str = Field(description="the new secret, shown once")
    previous_secret_expires_at: datetime | None


class LogOut(ApiModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_ids: list[str]
    event_types: list[str]
    message_id: str
    replay_of: uuid.UUID | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    request_headers: dict[str, Any] | None
    request_body: str | None
    response_status: int | None
    response_headers: dict[str, Any] | None
    response_body: str | None
    latency_ms: int | None
    error: str | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime


class LogPage(ApiModel):
    data: list[LogOut]
    pagination: PaginationMeta


class ReplayRangeIn(InputModel):
    from_: datetime = Field(alias="from")
    to: datetime

    @model_validator(mode="after")
    def _range(self) -> ReplayRangeIn:
        if self.from_.tzinfo is None or self.to.tzinfo is None:
            raise ValueError("from and to need a time zone (e.g. 2026-01-01T00:00:00Z)")
        if self.to <= self.from_:
            raise ValueError("to must be after from")
        if (self.to - self.from_).days > MAX_REPLAY_RANGE_DAYS:
            raise ValueError(f"a replay covers at most {MAX_REPLAY_RANGE_DAYS} days")
        return self


class Replayed(ApiModel):
    replayed: int
    log_ids: list[uuid.UUID]


class Health(ApiModel):
    window_hours: int
    deliveries: int
    succeeded: int
    failing: int = Field(description="failed at least once and still retrying")
    dead: int
    success_rate: float | None = Field(description="succeeded / (succeeded + dead + failing); null with none")
    p50_latency_ms: float | None
    p95_latency_ms: float | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    enabled: bool

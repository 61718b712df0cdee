"""Wire shapes of the event catalogue and the organization's event log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from serving.core.schemas import ApiModel


class EventTypeOut(ApiModel):
    name: str
    version: int
    subject: str
    description: str
    payload_schema: dict[str, Any]


class EventTypeList(BaseModel):
    data: list[EventTypeOut]


class DeliveryOut(ApiModel):
    subscriber: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None


class DomainEventOut(ApiModel):
    id: uuid.UUID
    type: str
    version: int
    subject_id: uuid.UUID | None
    actor_user_id: uuid.UUID | None
    payload: dict[str, Any]
    occurred_at: datetime
    recorded_at: datetime
    dispatched_at: datetime | None
    deliveries: list[DeliveryOut] = []


class DomainEventFilters(ApiModel):
    type: str | None = None
    subject_id: uuid.UUID | None = None
    delivery_status: Literal["pending", "done", "dead"] | None = None

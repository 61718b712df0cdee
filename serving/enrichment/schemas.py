from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from serving.core.pagination import PaginationMeta
from serving.core.schemas import ApiModel, InputModel
from serving.enrichment.waterfall import FIELDS


class ProviderIn(InputModel):
    enabled: bool = True
    priority: int = Field(default=100, ge=0, le=10_000)
    # omitted: keep the stored key; "": forget it
    api_key: str | None = Field(default=None, max_length=2000)
    cost_cents_per_request: int = Field(default=0, ge=0, le=1_000_000)
    monthly_cap_cents: int | None = Field(default=None, ge=0, le=1_000_000_000)


class ProviderOut(ApiModel):
    provider: str
    enabled: bool
    priority: int
    key_hint: str | None  # the key's last four characters; the key itself is never returned
    cost_cents_per_request: int
    monthly_cap_cents: int | None
    updated_at: datetime


class ProviderList(ApiModel):
    data: list[ProviderOut]


class RequestOut(ApiModel):
    id: uuid.UUID
    prospect_id: uuid.UUID
    provider: str
    status: str
    fields_returned: list[str]
    cost_cents: int
    latency_ms: int | None
    cache_hit: bool
    error: str | None
    created_at: datetime


class RequestPage(ApiModel):
    data: list[RequestOut]
    pagination: PaginationMeta


class EnrichIn(InputModel):
    fields: list[str] = Field(default_factory=lambda: list(FIELDS), min_length=1, max_length=len(FIELDS))


class EnrichOut(ApiModel):
    prospect_id: uuid.UUID
    enrichment_data: dict[str, Any]
    requests: list[dict[str, Any]]


class UsageRow(ApiModel):
    provider: str
    requests: int
    cache_hits: int
    matches: int
    cost_cents: int
    monthly_cap_cents: int | None


class UsageOut(ApiModel):
    month: str
    data: list[UsageRow]

"""The integrations API's request and response models."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from serving.core.schemas import ApiModel, InputModel


class MarketplaceItem(ApiModel):
    key: str
    name: str
    category: str
    auth_type: str
    description: str
    status: str  # available: it works end to end here; planned: listed, not installable yet
    # set up elsewhere instead of `/integrations/install` (the enrichment vendors: their provider settings)
    setup_path: str | None = None
    installed_id: uuid.UUID | None
    rating: float | None
    reviews: int


SlackEvent = Literal["deal.won", "deal.lost", "deal.stage_changed", "bdr.handoff_ready", "meeting.scheduled",
                     "email.replied", "intent.spike_detected", "prospect.qualified"]


class IntegrationConfig(InputModel):
    channel: str | None = Field(None, min_length=1, max_length=200)  # Slack: where notifications go
    events: list[SlackEvent] = Field(default_factory=list, max_length=20)  # Slack: the domain events to post
    sync_interval_minutes: int | None = Field(None, ge=15, le=10_080)  # scheduled sync; none: manual only
    crm: dict[str, Any] | None = None  # HubSpot/Salesforce field mapping and conflict rule (docs/crm_sync.md)


class InstallIn(InputModel):
    provider: str = Field(min_length=1, max_length=64)
    api_key: str | None = Field(None, min_length=1, max_length=4000)  # api_key providers
    config: IntegrationConfig = Field(default_factory=IntegrationConfig)


class IntegrationOut(ApiModel):
    id: uuid.UUID
    provider: str
    status: str
    auth_type: str
    config: dict[str, Any]
    installed_by: uuid.UUID | None
    last_sync_at: datetime | None
    last_error: str | None
    health_score: int
    created_at: datetime


class InstallOut(ApiModel):
    integration: IntegrationOut
    # OAuth providers: send the user here; the provider redirects back to /integrations/oauth/callback
    authorization_url: str | None


class StatusOut(ApiModel):
    id: uuid.UUID
    provider: str
    status: str
    health_score: int
    auth_ok: bool
    calls_last_day: int
    error_rate_last_day: float | None
    avg_latency_ms_last_day: int | None
    last_error: str | None
    last_sync_at: datetime | None
    last_sync_status: str | None
    token_expires_at: datetime | None


class UsageDay(ApiModel):
    day: date
    calls: int
    errors: int
    avg_latency_ms: int | None
    cost_usd: float


class UsageOut(ApiModel):
    days: list[UsageDay]


class SettingsIn(InputModel):
    config: IntegrationConfig


class SyncLogOut(ApiModel):
    id: uuid.UUID
    integration_id: uuid.UUID
    direction: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    read_count: int
    created_count: int
    updated_count: int
    skipped_count: int
    failed_count: int
    error: str | None


class WebhookAccepted(ApiModel):
    outcome: str  # booked, canceled, done_before, unknown_person, ignored

"""Flow API answers (camelCase). The request body of a flow is `definition.FlowSpec`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from serving.core.pagination import PaginationMeta
from serving.core.schemas import ApiModel, InputModel


class FlowOut(ApiModel):
    id: uuid.UUID
    name: str
    description: str | None
    enabled: bool
    disabled_reason: str | None = Field(description="why the platform switched it off (a record-change loop)")
    trigger: dict[str, Any]
    steps: list[dict[str, Any]]
    version: int
    has_hook_token: bool = Field(description="webhook trigger: whether a hook URL token exists")
    next_run_at: datetime | None = Field(description="schedule trigger: the next cron time, while enabled")
    last_run_at: datetime | None
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class FlowSaved(FlowOut):
    hook_url: str | None = Field(default=None, description="webhook trigger: the hook URL with its secret token, "
                                 "in this answer only (when the token was made now)")
    created: bool = Field(default=False, description="import: whether the flow was new")


class FlowPage(ApiModel):
    data: list[FlowOut]
    pagination: PaginationMeta


class HookToken(ApiModel):
    hook_url: str = Field(description="the hook URL with the new token, shown once; the old one stops working")


class RunIn(InputModel):
    payload: dict[str, Any] = Field(default_factory=dict, description="what the mappings see as `trigger`")


class ExecutionOut(ApiModel):
    id: uuid.UUID
    flow_id: uuid.UUID
    flow_version: int
    trigger_type: str
    trigger_payload: dict[str, Any]
    source_event_id: uuid.UUID | None
    status: str
    error: str | None
    runs: int
    started_by: uuid.UUID | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime


class ExecutionDetail(ExecutionOut):
    log: list[dict[str, Any]] = Field(description="one entry per step attempt: path, stepId, type, attempt, "
                                      "maxAttempts, iteration (in a loop), input, output, error, durationMs")
    definition: dict[str, Any] = Field(description="the trigger and steps of the version that ran")


class ExecutionPage(ApiModel):
    data: list[ExecutionOut]
    pagination: PaginationMeta


class HookAccepted(ApiModel):
    execution_id: uuid.UUID
    status: str

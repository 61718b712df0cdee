"""Task queue bodies."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from serving.core.schemas import ApiModel, InputModel
from serving.tasks.models import TaskOutcome, TaskType


class TaskOut(ApiModel):
    id: uuid.UUID
    user_id: uuid.UUID | None
    prospect_id: uuid.UUID | None
    cadence_id: uuid.UUID | None
    enrollment_id: uuid.UUID | None
    step_id: uuid.UUID | None
    type: str
    title: str
    description: str | None
    due_at: datetime
    status: str
    outcome: str | None
    notes: str | None
    completed_at: datetime | None
    created_at: datetime


class TaskIn(InputModel):
    type: TaskType = TaskType.task
    title: str = Field(min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=5000)
    prospect_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    due_at: datetime | None = None


class CompleteIn(InputModel):
    outcome: TaskOutcome = TaskOutcome.completed
    notes: str | None = Field(default=None, max_length=10_000)
    duration_seconds: int | None = Field(default=None, ge=0, le=86_400)

"""/tasks: the rep's daily queue (`/tasks/today`), manual tasks, completion with an outcome."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfoNotFoundError

from fastapi import APIRouter, Query
from sqlalchemy import select

from serving.api_keys.models import Scope
from serving.core.deps import DbSession, require
from serving.core.errors import NotFound, ValidationFailed
from serving.core.idempotency import IdempotencyDep
from serving.core.pagination import Page, Pagination, page_of, paginate
from serving.core.principal import Principal
from serving.core.references import require_visible
from serving.prospects.models import Prospect
from serving.tasks import service
from serving.tasks.models import Task
from serving.tasks.schemas import CompleteIn, TaskIn, TaskOut
from serving.users.models import User

router = APIRouter()

Reader = Annotated[Principal, require(Scope.activities_read)]
Writer = Annotated[Principal, require(Scope.activities_write)]


@router.get("/today", response_model=Page[TaskOut], summary="My tasks due today (and overdue)")
def today(
    db: DbSession,
    principal: Reader,
    pagination: Pagination,
    tz: Annotated[str, Query(max_length=64, description="IANA time zone of the rep")] = "UTC",
    user_id: Annotated[uuid.UUID | None, Query(alias="userId")] = None,
):
    try:
        stmt = service.today_query(user_id=user_id or principal.user_id, now=datetime.now(UTC), tz=tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"unknown time zone {tz!r}", details={"field": "tz", "value": tz}) from None
    items, meta = paginate(db, stmt, pagination)
    return page_of([TaskOut.model_validate(t) for t in items], meta)


@router.get("", response_model=Page[TaskOut], summary="List tasks")
def list_tasks(
    db: DbSession,
    principal: Reader,
    pagination: Pagination,
    status: Annotated[str | None, Query()] = None,
    prospect_id: Annotated[uuid.UUID | None, Query(alias="prospectId")] = None,
    user_id: Annotated[uuid.UUID | None, Query(alias="userId")] = None,
):
    stmt = select(Task).order_by(Task.due_at, Task.id)
    if status:
        stmt = stmt.where(Task.status.in_(status.split(",")))
    if prospect_id:
        stmt = stmt.where(Task.prospect_id == prospect_id)
    if user_id:
        stmt = stmt.where(Task.user_id == user_id)
    items, meta = paginate(db, stmt, pagination)
    return page_of([TaskOut.model_validate(t) for t in items], meta)


@router.post("", response_model=TaskOut, status_code=201, summary="Create a task")
def create_task(body: TaskIn, db: DbSession, principal: Writer, idem: IdempotencyDep):
    def create() -> TaskOut:
        require_visible(db, Prospect, body.prospect_id, "prospectId")
        require_visible(db, User, body.user_id, "userId")
        task = Task(
            organization_id=principal.organization_id,
            user_id=body.user_id or principal.user_id,
            prospect_id=body.prospect_id,
            type=body.type,
            title=body.title,
            description=body.description,
            due_at=body.due_at or datetime.now(UTC),
        )
        db.add(task)
        db.flush()
        return TaskOut.model_validate(task)

    return idem.run(create, payload=body)


@router.post("/{task_id}/complete", response_model=TaskOut, summary="Complete a task with an outcome")
def complete_task(task_id: uuid.UUID, body: CompleteIn, db: DbSession, principal: Writer):
    task = db.get(Task, task_id, with_for_update=True)
    if task is None:
        raise NotFound("task", task_id)
    service.complete(
        db_session=db,
        task=task,
        user_id=principal.user_id,
        outcome=body.outcome,
        notes=body.notes,
        duration_seconds=body.duration_seconds,
    )
    return TaskOut.model_validate(task)

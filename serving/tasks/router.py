"""/tasks: the rep's daily queue (`/tasks/today`), manual tasks, completion with an outcome."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from serving.core.clock import utcnow
from serving.core.deps import DbSession, require
from serving.core.errors import NotFound
from serving.core.idempotency import IdempotencyDep
from serving.core.listing import parse_choices
from serving.core.pagination import Page, Pagination, page_of, paginate
from serving.core.permissions import Scope
from serving.core.principal import Principal
from serving.tasks import service
from serving.tasks.models import Task, TaskStatus
from serving.tasks.schemas import CompleteIn, TaskIn, TaskOut

router = APIRouter()

Reader = Annotated[Principal, require(Scope.activities_read)]
Writer = Annotated[Principal, require(Scope.activities_write)]


def _get_or_404(db, task_id: uuid.UUID, *, lock: bool = False) -> Task:
    task = service.get(db_session=db, task_id=task_id, lock=lock)
    if task is None:
        raise NotFound("task", task_id)
    return task


@router.get("/today", response_model=Page[TaskOut], summary="My tasks due today (and overdue)")
def today(
    db: DbSession,
    principal: Reader,
    pagination: Pagination,
    tz: Annotated[str, Query(max_length=64, description="IANA time zone of the rep")] = "UTC",
    user_id: Annotated[uuid.UUID | None, Query(alias="userId")] = None,
):
    stmt = service.today_query(user_id=user_id or principal.user_id, now=utcnow(), tz=tz)
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
    stmt = service.filtered(
        statuses=parse_choices(status, TaskStatus, field="status"), prospect_id=prospect_id, user_id=user_id
    )
    items, meta = paginate(db, stmt, pagination)
    return page_of([TaskOut.model_validate(t) for t in items], meta)


@router.post("", response_model=TaskOut, status_code=201, summary="Create a task")
def create_task(body: TaskIn, db: DbSession, principal: Writer, idem: IdempotencyDep):
    def create() -> TaskOut:
        return TaskOut.model_validate(service.create(db_session=db, principal=principal, data=body))

    return idem.run(create, payload=body)


@router.post("/{task_id}/complete", response_model=TaskOut, summary="Complete a task with an outcome")
def complete_task(task_id: uuid.UUID, body: CompleteIn, db: DbSession, principal: Writer):
    task = _get_or_404(db, task_id, lock=True)
    service.complete(
        db_session=db,
        task=task,
        user_id=principal.user_id,
        outcome=body.outcome,
        notes=body.notes,
        duration_seconds=body.duration_seconds,
    )
    return TaskOut.model_validate(task)

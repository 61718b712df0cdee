"""The rep's queue: today's tasks, completion with an outcome (an activity on the timeline)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from serving.activities import service as activities
from serving.activities.models import ActivityType
from serving.core.clock import utcnow
from serving.core.errors import ValidationFailed
from serving.core.principal import Principal
from serving.core.references import require_visible
from serving.prospects.models import Prospect
from serving.tasks.models import Task, TaskOutcome, TaskStatus, TaskType
from serving.tasks.schemas import TaskIn
from serving.users.models import User

CALL_DISPOSITIONS = {
    "connected": "answered",
    "voicemail": "voicemail",
    "no_answer": "no_answer",
    "busy": "busy",
    "meeting_booked": "answered",
    "not_interested": "answered",
}


def get(*, db_session: Session, task_id: uuid.UUID, lock: bool = False) -> Task | None:
    return db_session.get(Task, task_id, with_for_update=lock)


def filtered(
    *,
    statuses: list[TaskStatus],
    prospect_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> Select:
    stmt = select(Task).order_by(Task.due_at, Task.id)
    if statuses:
        stmt = stmt.where(Task.status.in_(statuses))
    if prospect_id:
        stmt = stmt.where(Task.prospect_id == prospect_id)
    if user_id:
        stmt = stmt.where(Task.user_id == user_id)
    return stmt


def create(*, db_session: Session, principal: Principal, data: TaskIn, now: datetime | None = None) -> Task:
    """A manual task, the principal's own unless assigned; due now unless a time is given."""
    require_visible(db_session, Prospect, data.prospect_id, "prospectId")
    require_visible(db_session, User, data.user_id, "userId")
    task = Task(
        organization_id=principal.organization_id,
        user_id=data.user_id or principal.user_id,
        prospect_id=data.prospect_id,
        type=data.type,
        title=data.title,
        description=data.description,
        due_at=data.due_at or now or utcnow(),
    )
    db_session.add(task)
    db_session.flush()
    return task


def create_for_step(*, db_session: Session, organization_id: uuid.UUID, user_id: uuid.UUID | None,
                    prospect_id: uuid.UUID, cadence_id: uuid.UUID, enrollment_id: uuid.UUID, step_id: uuid.UUID,
                    type: str, title: str, description: str | None, due_at: datetime) -> Task:
    """A cadence step the rep does by hand, as a task on the rep's queue (the cadence domain asks; it does not
    write this table itself)."""
    task = Task(organization_id=organization_id, user_id=user_id, prospect_id=prospect_id, cadence_id=cadence_id,
                enrollment_id=enrollment_id, step_id=step_id, type=type, title=title, description=description,
                due_at=due_at)
    db_session.add(task)
    db_session.flush()
    return task


def today_query(*, user_id: uuid.UUID, now: datetime, tz: str = "UTC") -> Select:
    """Pending tasks of the user due by the end of the user's day (overdue ones first)."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"unknown time zone {tz!r}", details={"field": "tz", "value": tz}) from None
    local = now.astimezone(zone)
    end_of_day = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return (
        select(Task)
        .where(Task.user_id == user_id, Task.status == TaskStatus.pending, Task.due_at < end_of_day)
        .order_by(Task.due_at, Task.id)
    )


def complete(
    *,
    db_session: Session,
    task: Task,
    user_id: uuid.UUID | None,
    outcome: str,
    notes: str | None,
    duration_seconds: int | None = None,
    now: datetime | None = None,
) -> Task:
    now = now or utcnow()
    if task.status != TaskStatus.pending:
        raise ValidationFailed(f"task is already {task.status}", code="INVALID_STATE")
    task.status = TaskStatus.skipped if outcome == TaskOutcome.skipped else TaskStatus.completed
    task.outcome = outcome
    task.notes = notes
    task.completed_at = now
    if task.status == TaskStatus.completed and task.prospect_id:
        if task.type == TaskType.call:
            activity = activities.record(
                db_session=db_session, organization_id=task.organization_id, type=ActivityType.call_made,
                user_id=user_id, prospect_id=task.prospect_id, subject=task.title, description=notes,
                metadata={"taskId": str(task.id), "outcome": outcome}, occurred_at=now,
            )
            db_session.flush()
            activities.record_call(
                db_session=db_session, activity=activity, disposition=CALL_DISPOSITIONS.get(outcome, "answered"),
                duration_seconds=duration_seconds or 0, notes=notes, outcome=outcome,
            )
        else:
            kind = {
                TaskType.linkedin: ActivityType.linkedin_interaction,
                TaskType.sms: ActivityType.sms_sent,
            }.get(task.type, ActivityType.task_completed)
            activities.record(
                db_session=db_session, organization_id=task.organization_id, type=kind, user_id=user_id,
                prospect_id=task.prospect_id, subject=task.title, description=notes,
                metadata={"taskId": str(task.id), "outcome": outcome}, occurred_at=now,
            )
        if outcome == TaskOutcome.meeting_booked:
            # publishes meeting.scheduled: pausing the prospect's cadences is the cadence domain's reaction
            activities.record(
                db_session=db_session, organization_id=task.organization_id, type=ActivityType.meeting_scheduled,
                user_id=user_id, prospect_id=task.prospect_id, subject="Meeting booked",
                metadata={"taskId": str(task.id)}, occurred_at=now,
            )
    db_session.flush()
    return task

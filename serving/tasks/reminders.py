"""`task.due_soon`: a rep's open task falling due within the hour is published once (per task and due time), so
notifications and automations can remind without each polling the task table."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from serving.core import outbox
from serving.core.db import tenant_session
from serving.core.event_catalogue import TaskDueSoon
from serving.tasks.models import Task, TaskStatus

WINDOW = timedelta(hours=1)


def publish_due_soon(db_session: Session, *, now: datetime, window: timedelta = WINDOW) -> int:
    """Publish the tenant's pending tasks due in (now, now + window]; a task already announced for the same due
    time is skipped (the dedupe key), and a rescheduled one is announced again."""
    published = 0
    for task in db_session.scalars(
        select(Task).where(Task.status == TaskStatus.pending, Task.due_at > now, Task.due_at <= now + window)
    ):
        event = outbox.publish(
            db_session, organization_id=task.organization_id, type="task.due_soon", subject_id=task.id,
            dedupe_key=f"{task.id}:{task.due_at.isoformat()}",
            payload=TaskDueSoon(task_id=task.id, assignee_id=task.user_id, prospect_id=task.prospect_id,
                                type=task.type, title=task.title, due_at=task.due_at),
        )
        published += event is not None
    return published


def publish_all_due_soon(*, factory: sessionmaker[Session], now: datetime, window: timedelta = WINDOW) -> int:
    with factory() as session, session.begin():
        organizations = list(session.scalars(
            text("select * from app.tasks_due_soon_organizations(:start, :until)"),
            {"start": now, "until": now + window},
        ))
    published = 0
    for organization_id in organizations:
        with tenant_session(factory, organization_id) as session:
            published += publish_due_soon(session, now=now, window=window)
    return published

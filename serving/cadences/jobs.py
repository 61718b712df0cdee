"""Worker jobs for cadences, and the periodic sweep that wakes every organization with due work."""

from __future__ import annotations

import uuid
from datetime import datetime

from procrastinate import RetryStrategy
from sqlalchemy import select, text

from serving.cadences import service
from serving.core.clock import utcnow
from serving.core.queue import QUEUE, enqueue, queue, runtime
from serving.emails import sending
from serving.emails.bulk import enqueue_materialize
from serving.emails.models import BulkEmailJob

RETRY = RetryStrategy(max_attempts=5, exponential_wait=2)


@queue.task(name=service.RUN_TASK, queue=QUEUE, retry=RETRY)
def run_due(organization_id: str) -> dict:
    rt = runtime()
    return dict(
        service.run_due(factory=rt.factory, settings=rt.settings, organization_id=uuid.UUID(organization_id))
    )


def sweep(*, factory, now: datetime) -> int:
    """Enqueue (coalesced) jobs for every organization with due emails, steps or bulk jobs.

    This is also what makes sends survive lost jobs: anything due is found from the rows.
    """
    with factory() as session, session.begin():
        organizations = list(
            session.scalars(text("select * from app.outreach_due_organizations(:now)"), {"now": now})
        )
    for organization_id in organizations:
        with factory() as session, session.begin():
            enqueue(
                session,
                service.RUN_TASK,
                queueing_lock=f"cadence:{organization_id}",
                organization_id=str(organization_id),
            )
            sending.wake_delivery(db_session=session, organization_id=organization_id)
            from serving.core.db import set_tenant

            set_tenant(session, organization_id)
            for job in session.scalars(
                select(BulkEmailJob).where(
                    BulkEmailJob.status.in_(["pending", "running"]), BulkEmailJob.send_at <= now
                )
            ):
                enqueue_materialize(db_session=session, job=job)
    return len(organizations)


@queue.periodic(cron="* * * * *", periodic_id="outreach-sweep")
@queue.task(name="outreach.sweep", queue=QUEUE, queueing_lock="outreach.sweep")
def periodic_sweep(timestamp: int) -> int:
    return sweep(factory=runtime().factory, now=utcnow())

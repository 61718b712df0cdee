"""Worker jobs for email: deliver an organization's due emails, materialize bulk jobs."""

from __future__ import annotations

import uuid

from procrastinate import RetryStrategy

from serving.core.queue import QUEUE, enqueue, queue, runtime
from serving.emails import bulk, runner, sending

# Jobs only wake the row-driven loops up; retries of the rows themselves are in the rows.
RETRY = RetryStrategy(max_attempts=5, exponential_wait=2)


@queue.task(name=sending.DELIVER_TASK, queue=QUEUE, retry=RETRY)
def deliver_due(organization_id: str) -> dict:
    rt = runtime()
    outcomes = runner.deliver_due(
        factory=rt.factory, settings=rt.settings, organization_id=uuid.UUID(organization_id), time_budget=50.0
    )
    if outcomes.get("budget_exhausted"):
        with rt.factory() as session, session.begin():
            enqueue(
                session,
                sending.DELIVER_TASK,
                queueing_lock=f"deliver:{organization_id}",
                organization_id=organization_id,
            )
    return dict(outcomes)


@queue.task(name=bulk.MATERIALIZE_TASK, queue=QUEUE, retry=RETRY)
def materialize_bulk(organization_id: str, job_id: str, first: int | None = None, last: int | None = None) -> int:
    """One chunk [first, last) of a bulk job's recipients (the whole job without them: jobs queued before
    chunking)."""
    rt = runtime()
    return bulk.materialize(
        factory=rt.factory,
        settings=rt.settings,
        organization_id=uuid.UUID(organization_id),
        job_id=uuid.UUID(job_id),
        first=first,
        last=last,
    )

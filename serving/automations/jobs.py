"""Worker jobs of flows: run one execution (queued by every trigger), and the minute scheduler that queues the
cron flows that came due."""

from __future__ import annotations

import uuid

from procrastinate import RetryStrategy

from serving.automations import executions
from serving.core.clock import utcnow
from serving.core.queue import QUEUE, queue, runtime

# Step retries happen inside a run (per the step's `retry`); the job is retried only when the worker itself failed
# mid-run (a crash, the database gone), and a finished execution is never run again.
RETRY = RetryStrategy(max_attempts=3, exponential_wait=5)


@queue.task(name=executions.EXECUTE_TASK, queue=QUEUE, retry=RETRY)
def execute(organization_id: str, execution_id: str) -> str | None:
    rt = runtime()
    return executions.run(factory=rt.factory, settings=rt.settings, organization_id=uuid.UUID(organization_id),
                          execution_id=uuid.UUID(execution_id))


@queue.periodic(cron="* * * * *", periodic_id="flows-schedule")
@queue.task(name="flows.schedule", queue=QUEUE, queueing_lock="flows.schedule")
def periodic_schedule(timestamp: int) -> int:
    return executions.schedule_due(factory=runtime().factory, now=utcnow())

"""Worker jobs of webhooks: send an organization's due deliveries (woken by the subscriber, by replays, and by a
sweep every minute for retries that came due)."""

from __future__ import annotations

import uuid
from dataclasses import asdict

from procrastinate import RetryStrategy
from sqlalchemy import text

from serving.core.clock import utcnow
from serving.core.queue import QUEUE, queue, runtime
from serving.webhooks import delivery
from serving.webhooks.flows import DELIVER_TASK, wake

# A job only wakes the row-driven delivery; the retry schedule of a failing receiver is in its log rows.
RETRY = RetryStrategy(max_attempts=5, exponential_wait=2)


@queue.task(name=DELIVER_TASK, queue=QUEUE, retry=RETRY)
def deliver(organization_id: str) -> dict:
    rt = runtime()
    outcome = delivery.run(factory=rt.factory, settings=rt.settings, organization_id=uuid.UUID(organization_id),
                           now=utcnow())
    return asdict(outcome)


def sweep(*, factory, now) -> int:
    """Wake every organization with deliveries due (a definer function: the sweep has no tenant)."""
    with factory() as session, session.begin():
        organizations = list(session.scalars(text("select * from app.webhooks_due_organizations(:now)"),
                                             {"now": now}))
        for organization_id in organizations:
            wake(session, organization_id)
    return len(organizations)


@queue.periodic(cron="* * * * *", periodic_id="webhooks-sweep")
@queue.task(name="webhooks.sweep", queue=QUEUE, queueing_lock="webhooks.sweep")
def periodic_sweep(timestamp: int) -> int:
    return sweep(factory=runtime().factory, now=utcnow())

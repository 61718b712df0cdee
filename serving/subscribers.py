"""Every subscriber of the domain-event outbox, and the worker jobs of the backbone: delivery, the sweep that
wakes organizations with due deliveries, and the scheduled publisher of `task.due_soon`.

The composition root for reactions: a new reaction is a `Subscriber` in its domain's `flows.py`, listed here.
"""

from __future__ import annotations

import logging
import uuid

from procrastinate import RetryStrategy

from serving.activities import flows as timeline
from serving.automations import flows as automations
from serving.bdr import flows as bdr
from serving.cadences import flows as cadences
from serving.core import outbox
from serving.core.clock import utcnow
from serving.core.queue import QUEUE, queue, runtime
from serving.enrichment import flows as enrichment
from serving.integrations import flows as integrations
from serving.notifications import flows as notifications
from serving.prospects import flows as prospects
from serving.tasks import reminders
from serving.webhooks import flows as webhooks

logger = logging.getLogger(__name__)

REGISTRY = outbox.Registry.of([
    *timeline.SUBSCRIBERS,
    *cadences.SUBSCRIBERS,
    *notifications.SUBSCRIBERS,
    *prospects.SUBSCRIBERS,
    *webhooks.SUBSCRIBERS,
    *bdr.SUBSCRIBERS,
    *automations.SUBSCRIBERS,
    *integrations.SUBSCRIBERS,
    *enrichment.SUBSCRIBERS,
])

# A job only wakes the row-driven delivery; the retries of a failing subscriber are in its delivery rows.
RETRY = RetryStrategy(max_attempts=5, exponential_wait=2)


@queue.task(name=outbox.DELIVER_TASK, queue=QUEUE, retry=RETRY)
def deliver_events(organization_id: str) -> dict:
    outcome = outbox.deliver(factory=runtime().factory, organization_id=uuid.UUID(organization_id),
                             registry=REGISTRY)
    return vars(outcome)


def sweep(*, factory) -> int:
    """Wake every organization with events to dispatch or deliveries due (retries come due here)."""
    with factory() as session, session.begin():
        organizations = outbox.organizations_due(session, now=utcnow())
        for organization_id in organizations:
            outbox.wake(session, organization_id)
    return len(organizations)


@queue.periodic(cron="* * * * *", periodic_id="events-sweep")
@queue.task(name="events.sweep", queue=QUEUE, queueing_lock="events.sweep")
def periodic_sweep(timestamp: int) -> int:
    return sweep(factory=runtime().factory)


@queue.periodic(cron="*/5 * * * *", periodic_id="tasks-due-soon")
@queue.task(name="tasks.publish_due_soon", queue=QUEUE, queueing_lock="tasks.publish_due_soon")
def publish_due_soon(timestamp: int) -> int:
    return reminders.publish_all_due_soon(factory=runtime().factory, now=utcnow())

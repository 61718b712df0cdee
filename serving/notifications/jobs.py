"""Worker jobs of notifications: deliver an organization's due e-mail/push/SMS and digests (woken by the
subscriber, and by a sweep every minute for quiet hours ending, retries and digest boundaries), and the seed's
maintenance functions on a schedule (unsnooze each minute; auto-archive and cleanup nightly)."""

from __future__ import annotations

import uuid
from dataclasses import asdict

from procrastinate import RetryStrategy
from sqlalchemy import text

from serving.core.clock import utcnow
from serving.core.queue import QUEUE, enqueue, queue, runtime
from serving.notifications import delivery
from serving.notifications.flows import DELIVER_TASK

RETRY = RetryStrategy(max_attempts=5, exponential_wait=2)


@queue.task(name=DELIVER_TASK, queue=QUEUE, retry=RETRY)
def deliver(organization_id: str) -> dict:
    rt = runtime()
    outcome = delivery.run(factory=rt.factory, settings=rt.settings, organization_id=uuid.UUID(organization_id),
                           now=utcnow())
    return asdict(outcome)


def sweep(*, factory, now) -> int:
    """Wake every organization with deliveries due or e-mail waiting for a digest (a definer function: the sweep
    has no tenant)."""
    with factory() as session, session.begin():
        organizations = list(session.scalars(text("select * from app.notifications_due_organizations(:now)"),
                                             {"now": now}))
        for organization_id in organizations:
            enqueue(session, DELIVER_TASK, queueing_lock=f"notifications:{organization_id}",
                    organization_id=str(organization_id))
    return len(organizations)


def maintain(*, factory, now, nightly: bool) -> dict:
    """The seed's three database functions: unsnooze (which also wakes the sockets), and nightly the archive of
    notifications read 30 days ago and the deletion of expired or long-archived ones."""
    with factory() as session, session.begin():
        done = {"unsnoozed": session.scalar(text("select app.unsnooze_notifications(:now)"), {"now": now})}
        if nightly:
            done["archived"] = session.scalar(text("select app.auto_archive_notifications(:now)"), {"now": now})
            done["deleted"] = session.scalar(text("select app.cleanup_expired_notifications(:now)"), {"now": now})
    return done


@queue.periodic(cron="* * * * *", periodic_id="notifications-sweep")
@queue.task(name="notifications.sweep", queue=QUEUE, queueing_lock="notifications.sweep")
def periodic_sweep(timestamp: int) -> int:
    return sweep(factory=runtime().factory, now=utcnow())


@queue.periodic(cron="* * * * *", periodic_id="notifications-unsnooze")
@queue.task(name="notifications.unsnooze", queue=QUEUE, queueing_lock="notifications.unsnooze")
def periodic_unsnooze(timestamp: int) -> dict:
    return maintain(factory=runtime().factory, now=utcnow(), nightly=False)


@queue.periodic(cron="17 3 * * *", periodic_id="notifications-cleanup")
@queue.task(name="notifications.cleanup", queue=QUEUE, queueing_lock="notifications.cleanup")
def periodic_cleanup(timestamp: int) -> dict:
    return maintain(factory=runtime().factory, now=utcnow(), nightly=True)

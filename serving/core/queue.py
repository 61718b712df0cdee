"""The job queue (procrastinate on the platform's Postgres): the app the job modules register on, their runtime,
and deferring a job inside the caller's transaction.

Here rather than in `serving.worker` so that the job modules (`<domain>/jobs.py`, `serving/subscribers.py`) and
anything that commits a change (a service, the event outbox, a pipeline) depend on core, while the worker, which
loads them all, depends on them: no import cycle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import procrastinate
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from serving.core.config import Settings, get_settings
from serving.core.db import session_factory

QUEUE = "outreach"
QUEUE_SCHEMA = "procrastinate"
# Module paths, not imports: procrastinate imports them when the worker starts.
TASK_MODULES = ["serving.emails.jobs", "serving.cadences.jobs", "serving.search.jobs", "serving.knowledge.jobs",
                "serving.notifications.jobs", "serving.webhooks.jobs", "serving.bdr.jobs", "serving.billing.jobs",
                "serving.team.jobs", "serving.automations.jobs", "serving.integrations.jobs",
                "serving.enrichment.jobs",
                "serving.subscribers", "serving.worker"]

queue = procrastinate.App(connector=procrastinate.PsycopgConnector(), import_paths=TASK_MODULES)


@dataclass
class Runtime:
    settings: Settings
    factory: sessionmaker[Session]


_runtime: Runtime | None = None


def configure(settings: Settings) -> Runtime:
    global _runtime
    _runtime = Runtime(
        settings=settings, factory=session_factory(settings.api_database_url, settings.db_pool_size,
                                                   plan_limits=settings.plan_limits_enabled)
    )
    return _runtime


def runtime() -> Runtime:
    return _runtime or configure(get_settings())


def enqueue(
    db_session: Session,
    task_name: str,
    *,
    queueing_lock: str | None = None,
    scheduled_at: datetime | None = None,
    **args,
) -> None:
    """Defer a job inside the caller's transaction; a job already waiting under the same
    `queueing_lock` makes this a no-op (wake-ups coalesce)."""
    db_session.execute(
        text(
            f"insert into {QUEUE_SCHEMA}.procrastinate_jobs "
            "(queue_name, task_name, priority, lock, queueing_lock, args, scheduled_at) "
            "values (:queue, :task, 0, null, :qlock, cast(:args as jsonb), :at) "
            "on conflict (queueing_lock) where status = 'todo' do nothing"
        ),
        {
            "queue": QUEUE,
            "task": task_name,
            "qlock": queueing_lock,
            "args": json.dumps(args, default=str),
            "at": scheduled_at,
        },
    )

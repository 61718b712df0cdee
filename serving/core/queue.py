"""Deferring worker jobs inside the caller's transaction (procrastinate's table on the platform's Postgres).

Here rather than in `serving.worker` so that anything that commits a change (a service, the event outbox, a
pipeline) can wake the worker without importing the worker's runtime.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

QUEUE = "outreach"
QUEUE_SCHEMA = "procrastinate"


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

"""The transactional job queue (procrastinate on the platform's Postgres) and its worker.

Jobs are wake-ups, not the source of truth: an email to send is a `queued` row in `app.emails`,
an enrollment step is a due `cadence_enrollments` row. A job claims rows with
`FOR UPDATE SKIP LOCKED`, so a killed worker leaves its rows for the next job (or the periodic
sweep, or the stalled-job retry); an email it was sending stays claimed (`sending`) and is settled
by asking the provider, not sent again. A starting worker sweeps once, so due work resumes at once.

`enqueue()` inserts a job in the caller's transaction, so a job exists if and only if the row
that needs it was committed. Procrastinate's tables live in the `procrastinate` schema.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import procrastinate
from procrastinate import exceptions as queue_errors
from procrastinate.jobs import Status

from serving.core import queue as queue_runtime
from serving.core.clock import utcnow
from serving.core.config import Settings
from serving.core.db import libpq_url
from serving.core.queue import QUEUE, QUEUE_SCHEMA, TASK_MODULES, Runtime, queue

logger = logging.getLogger(__name__)


def configure(settings: Settings) -> Runtime:
    import serving.all_models  # noqa: F401  (every mapper, so foreign keys resolve in the worker)

    return queue_runtime.configure(settings)


def connector_for(settings: Settings) -> procrastinate.PsycopgConnector:
    return procrastinate.PsycopgConnector(
        conninfo=libpq_url(settings.api_database_url),
        kwargs={"options": f"-c search_path={QUEUE_SCHEMA}"},
        min_size=1,
        max_size=max(2, settings.worker_concurrency + 2),
    )


@queue.periodic(cron="* * * * *", periodic_id="stalled")
@queue.task(name="worker.retry_stalled_jobs", queue=QUEUE, queueing_lock="worker.retry_stalled_jobs")
async def retry_stalled_jobs(timestamp: int) -> None:
    """Jobs of a worker that stopped heart-beating (killed, machine lost) go back to `todo`.

    A wake-up whose twin already waits under the same queueing lock cannot go back (procrastinate
    allows one `todo` job per lock); the waiting twin does the same work, so the dead one is closed
    as failed instead. One job that cannot be settled never stops the sweep for the others.
    """
    stalled = await queue.job_manager.get_stalled_jobs()
    for job in stalled:
        try:
            await queue.job_manager.retry_job(job)
            logger.warning("retried stalled job %s (%s)", job.id, job.task_name)
        except queue_errors.UniqueViolation:
            await queue.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
            logger.warning(
                "closed stalled job %s (%s): job with queueing lock %s is already waiting",
                job.id,
                job.task_name,
                job.queueing_lock,
            )
        except Exception:
            logger.exception("could not settle stalled job %s (%s)", job.id, job.task_name)


@lru_cache
def _task_modules_loaded() -> bool:
    import importlib

    for module in TASK_MODULES:
        importlib.import_module(module)
    return True


def run_worker(
    settings: Settings,
    *,
    concurrency: int | None = None,
    wait: bool = True,
    install_signal_handlers: bool = True,
) -> None:
    """Run the worker in the foreground (Ctrl-C / SIGTERM stops it after the running jobs)."""
    rt = configure(settings)
    _task_modules_loaded()
    # Due work (and claims left by a dead worker) gets a wake-up now, not at the next minute tick.
    from serving.cadences.jobs import sweep
    from serving.search.jobs import sweep as search_sweep
    from serving.subscribers import sweep as events_sweep

    woken = sweep(factory=rt.factory, now=utcnow())
    with_events = events_sweep(factory=rt.factory)
    with_search = search_sweep(factory=rt.factory)
    logger.info("start-up sweep woke %d organizations (%d with domain events, %d with search index work)", woken,
                with_events, with_search)
    with queue.replace_connector(connector_for(settings)):
        queue.run_worker(
            queues=[QUEUE],
            concurrency=concurrency or settings.worker_concurrency,
            wait=wait,
            install_signal_handlers=install_signal_handlers,
            delete_jobs="successful",
        )

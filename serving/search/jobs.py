"""Worker jobs of search: drain an organization's index queue (woken by the triggers that fill it), and a
periodic sweep that wakes any organization whose queue still holds work (a job that ran out of retries while
Typesense was down, a wake-up lost with a worker). Each worker's first sweep (a minute after it starts at most)
or first drain also rebuilds any collection an older release built without a field the searches now use
(`upgrade_outdated`)."""

from __future__ import annotations

import logging
import uuid
from functools import lru_cache

import psycopg
from procrastinate import RetryStrategy

from serving.core.config import Settings
from serving.core.db import libpq_url
from serving.core.queue import QUEUE, enqueue, queue, runtime
from serving.search import sync
from serving.search.engine import SearchIndex
from serving.search.reindex import reindex

logger = logging.getLogger(__name__)

SYNC_TASK = "search.sync"
REINDEX_LOCK = "revorc.search.upgrade"
RETRY = RetryStrategy(max_attempts=8, exponential_wait=2)


@lru_cache(maxsize=4)
def _index(url: str, key: str, prefix: str, owner_database_url: str) -> SearchIndex:
    index = SearchIndex(url=url, admin_key=key, prefix=prefix)
    index.ensure()
    upgrade_outdated(index, owner_database_url)
    return index


def index_for(settings: Settings) -> SearchIndex | None:
    configured = settings.typesense
    if configured is None:
        return None
    return _index(*configured, settings.search_collection_prefix, settings.owner_database_url)


def upgrade_outdated(index: SearchIndex, owner_database_url: str) -> list[str]:
    """Reindex the entities whose collection an older release built without a field of the current schema (until
    then their searches answer 503 SEARCH_UNAVAILABLE). One worker does it, under an advisory lock; another one
    starting meanwhile goes on draining (its writes reach the new collections through the reindex's replay)."""
    if not index.outdated():
        return []
    with psycopg.connect(libpq_url(owner_database_url), autocommit=True) as conn:
        if not conn.execute("select pg_try_advisory_lock(hashtext(%s))", (REINDEX_LOCK,)).fetchone()[0]:
            return []
        try:
            outdated = index.outdated()  # another worker may have rebuilt them before this one got the lock
            if outdated:
                logger.warning("rebuilding the search collections of %s: built without a field searches now use",
                               ", ".join(outdated))
                reindex(conn, index, outdated)
            return outdated
        finally:
            conn.execute("select pg_advisory_unlock(hashtext(%s))", (REINDEX_LOCK,))


@queue.task(name=SYNC_TASK, queue=QUEUE, retry=RETRY)
def sync_organization(organization_id: str) -> dict:
    rt = runtime()
    index = index_for(rt.settings)
    if index is None:
        # nothing to write to: the rows stay queued (one per record) until search is configured
        return {"skipped": "search is not configured"}
    result = sync.drain(factory=rt.factory, index=index, organization_id=uuid.UUID(organization_id))
    return vars(result)


def sweep(*, factory) -> int:
    with factory() as session, session.begin():
        organizations = sync.due_organizations(session)
        for organization_id in organizations:
            enqueue(session, SYNC_TASK, queueing_lock=f"search:{organization_id}",
                    organization_id=str(organization_id))
    return len(organizations)


@queue.periodic(cron="* * * * *", periodic_id="search-sweep")
@queue.task(name="search.sweep", queue=QUEUE, queueing_lock="search.sweep")
def periodic_sweep(timestamp: int) -> int:
    rt = runtime()
    try:  # once per process (cached): the collections made, and rebuilt if an older release built them
        index_for(rt.settings)
    except Exception as exc:  # Typesense away or a rebuild failed: the sweep itself needs neither; retried next minute
        logger.warning("search index not ready: %s", exc)
    return sweep(factory=rt.factory)

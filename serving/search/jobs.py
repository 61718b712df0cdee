"""Worker jobs of search: drain an organization's index queue (woken by the triggers that fill it), and a
periodic sweep that wakes any organization whose queue still holds work (a job that ran out of retries while
Typesense was down, a wake-up lost with a worker)."""

from __future__ import annotations

import logging
import uuid
from functools import lru_cache

from procrastinate import RetryStrategy

from serving.core.config import Settings
from serving.core.queue import QUEUE, enqueue, queue, runtime
from serving.search import sync
from serving.search.engine import SearchIndex

logger = logging.getLogger(__name__)

SYNC_TASK = "search.sync"
RETRY = RetryStrategy(max_attempts=8, exponential_wait=2)


@lru_cache(maxsize=4)
def _index(url: str, key: str, prefix: str) -> SearchIndex:
    index = SearchIndex(url=url, admin_key=key, prefix=prefix)
    index.ensure()
    return index


def index_for(settings: Settings) -> SearchIndex | None:
    configured = settings.typesense
    if configured is None:
        return None
    return _index(*configured, settings.search_collection_prefix)


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
    return sweep(factory=runtime().factory)

"""Worker job of enrichment: enrich one prospect (enqueued by `flows.on_prospect_created`). A vendor that fails is
recorded in `enrichment_requests` and the waterfall goes on; the job itself retries only when it crashes. A vendor
that answered 429 gets the prospect again after its Retry-After (at least 30 s, at most an hour; three runs in all):
the vendors that answered are then served from the cache, so only the rate-limited one is asked again."""

from __future__ import annotations

import uuid
from datetime import timedelta

from procrastinate import RetryStrategy

from serving.core.clock import utcnow
from serving.core.db import tenant_session
from serving.core.errors import AppError
from serving.core.queue import QUEUE, enqueue, queue, runtime
from serving.enrichment import service
from serving.enrichment.flows import ENRICH_TASK

RETRY = RetryStrategy(max_attempts=3, exponential_wait=5)
RATE_LIMITED_RUNS = 3  # a prospect's runs while a vendor keeps answering 429
RETRY_AFTER_BOUNDS = (30.0, 3600.0)  # seconds


def enrich(*, factory, settings, organization_id: uuid.UUID, prospect_id: uuid.UUID, run: int = 1) -> dict:
    with tenant_session(factory, organization_id) as session:
        try:
            result = service.enrich_prospect(db_session=session, settings=settings, prospect_id=prospect_id)
        except AppError as exc:  # no provider set up, prospect deleted meanwhile: nothing to retry
            return {"skipped": exc.code}
        waits = [r.retry_after or RETRY_AFTER_BOUNDS[0] for r in result.requests if r.status == "rate_limited"]
        again = None
        if waits and run < RATE_LIMITED_RUNS:
            low, high = RETRY_AFTER_BOUNDS
            again = utcnow() + timedelta(seconds=min(max(max(waits), low), high))
            enqueue(session, ENRICH_TASK, queueing_lock=f"enrichment-retry:{prospect_id}", scheduled_at=again,
                    organization_id=str(organization_id), prospect_id=str(prospect_id), run=run + 1)
    return {"fields": sorted(result.enrichment_data), "requests": len(result.requests),
            "again_at": again.isoformat() if again else None}


@queue.task(name=ENRICH_TASK, queue=QUEUE, retry=RETRY)
def enrich_prospect(organization_id: str, prospect_id: str, run: int = 1) -> dict:
    rt = runtime()
    return enrich(factory=rt.factory, settings=rt.settings, organization_id=uuid.UUID(organization_id),
                  prospect_id=uuid.UUID(prospect_id), run=run)

"""Worker job of enrichment: enrich one prospect (enqueued by `flows.on_prospect_created`). A vendor that fails is
recorded in `enrichment_requests` and the waterfall goes on; the job itself retries only when it crashes."""

from __future__ import annotations

import uuid

from procrastinate import RetryStrategy

from serving.core.db import tenant_session
from serving.core.errors import AppError
from serving.core.queue import QUEUE, queue, runtime
from serving.enrichment import service
from serving.enrichment.flows import ENRICH_TASK

RETRY = RetryStrategy(max_attempts=3, exponential_wait=5)


def enrich(*, factory, settings, organization_id: uuid.UUID, prospect_id: uuid.UUID) -> dict:
    with tenant_session(factory, organization_id) as session:
        try:
            result = service.enrich_prospect(db_session=session, settings=settings, prospect_id=prospect_id)
        except AppError as exc:  # no provider set up, prospect deleted meanwhile: nothing to retry
            return {"skipped": exc.code}
    return {"fields": sorted(result.enrichment_data), "requests": len(result.requests)}


@queue.task(name=ENRICH_TASK, queue=QUEUE, retry=RETRY)
def enrich_prospect(organization_id: str, prospect_id: str) -> dict:
    rt = runtime()
    return enrich(factory=rt.factory, settings=rt.settings, organization_id=uuid.UUID(organization_id),
                  prospect_id=uuid.UUID(prospect_id))

"""Worker jobs of the knowledge base: crawl a website into documents (queued by `POST
/knowledge/websites/{id}/crawl` and by the Dagster re-crawl schedule)."""

from __future__ import annotations

import uuid
from dataclasses import asdict

from procrastinate import RetryStrategy

from serving.core.queue import QUEUE, queue, runtime
from serving.knowledge import service

# A crawl is slow and the site may be briefly down; a few spaced retries, then the website row says why.
RETRY = RetryStrategy(max_attempts=3, exponential_wait=30)


@queue.task(name=service.CRAWL_TASK, queue=QUEUE, retry=RETRY)
def crawl_website(organization_id: str, website_id: str) -> dict:
    rt = runtime()
    summary = service.crawl_website(factory=rt.factory, settings=rt.settings,
                                    organization_id=uuid.UUID(organization_id), website_id=uuid.UUID(website_id))
    return asdict(summary)

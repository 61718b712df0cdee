"""Worker jobs of billing: the daily usage report to Stripe's meter (see `usage.py`)."""

from __future__ import annotations

from procrastinate import RetryStrategy

from serving.billing import usage
from serving.core.clock import utcnow
from serving.core.queue import QUEUE, queue, runtime


@queue.periodic(cron="15 0 * * *", periodic_id="billing-usage-report")
@queue.task(name="billing.report_usage", queue=QUEUE, queueing_lock="billing.report_usage",
            retry=RetryStrategy(max_attempts=5, exponential_wait=60))
def report_usage(timestamp: int) -> dict[str, int]:
    rt = runtime()
    return usage.report(factory=rt.factory, settings=rt.settings, today=utcnow().date())

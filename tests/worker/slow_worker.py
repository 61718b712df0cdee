"""A worker whose outbox deliveries are slow, so a test can kill it in the middle of a bulk job."""

import os
import time

from serving.core.config import Settings
from serving.emails.delivery import outbox
from serving.worker import run_worker

_deliver = outbox.OutboxBackend.deliver


def _slow(self, message):
    time.sleep(float(os.environ.get("SLOW_DELIVERY_SECONDS", "0.02")))
    return _deliver(self, message)


outbox.OutboxBackend.deliver = _slow

if __name__ == "__main__":
    import logging

    logging.basicConfig(level=os.environ.get("WORKER_LOG_LEVEL", "WARNING"))
    run_worker(Settings(), concurrency=2, wait=os.environ.get("RUN_ONCE") != "1")

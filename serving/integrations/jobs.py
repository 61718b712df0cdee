"""Worker jobs of integrations: one sync (manual or scheduled) and the minute sweep that requests the scheduled
syncs that came due."""

from __future__ import annotations

import uuid

from procrastinate import RetryStrategy

from serving.core.clock import utcnow
from serving.core.db import set_tenant
from serving.core.queue import QUEUE, queue, runtime
from serving.integrations import service
from serving.integrations.models import IntegrationSyncLog, SyncStatus

RETRY = RetryStrategy(max_attempts=3, exponential_wait=10)


@queue.task(name=service.SYNC_TASK, queue=QUEUE, retry=RETRY)
def sync(organization_id: str, integration_id: str, log_id: str) -> dict:
    rt = runtime()
    with rt.factory() as session, session.begin():
        set_tenant(session, uuid.UUID(organization_id))
        log = session.get(IntegrationSyncLog, uuid.UUID(log_id))
        row = session.get(service.TeamIntegration, uuid.UUID(integration_id))
        if log is None or row is None or log.status != SyncStatus.running:
            return {"skipped": "the integration or its sync log is gone, or the sync already ran"}
        service.run_sync(db_session=session, settings=rt.settings, row=row, log=log)
        return {"status": log.status, "read": log.read_count, "failed": log.failed_count}


@queue.periodic(cron="* * * * *", periodic_id="integrations-sync-schedule")
@queue.task(name="integrations.schedule", queue=QUEUE, queueing_lock="integrations.schedule")
def schedule(timestamp: int) -> int:
    """Request a sync of every integration whose interval passed (each in its own organization's transaction)."""
    rt = runtime()
    now = utcnow()
    with rt.factory() as session:
        due = service.due_syncs(db_session=session, now=now)
    for organization_id, integration_id in due:
        with rt.factory() as session, session.begin():
            set_tenant(session, organization_id)
            row = session.get(service.TeamIntegration, integration_id)
            if row is not None:
                service.request_sync(db_session=session, settings=rt.settings, row=row, now=now)
    return len(due)

"""Enrichment as a subscriber of `prospect.created`: a prospect created with `enrichmentEnabled: true` gets a worker
job that enriches it with the organization's providers (serving/enrichment/jobs.py). Enqueued in the event
delivery's transaction, so the job exists exactly when the delivery is recorded."""

from __future__ import annotations

from sqlalchemy.orm import Session

from serving.core.outbox import Event, Subscriber
from serving.core.queue import enqueue
from serving.prospects import service as prospects

ENRICH_TASK = "enrichment.enrich_prospect"


def on_prospect_created(*, db_session: Session, event: Event) -> None:
    if event.subject_id is None:
        return
    prospect = prospects.get(db_session=db_session, prospect_id=event.subject_id)
    if prospect is None or not prospect.enrichment_enabled:
        return
    enqueue(db_session, ENRICH_TASK, queueing_lock=f"enrichment:{prospect.id}",
            organization_id=str(event.organization_id), prospect_id=str(prospect.id))


SUBSCRIBERS = [Subscriber("enrichment.on_prospect_created", frozenset({"prospect.created"}), on_prospect_created)]

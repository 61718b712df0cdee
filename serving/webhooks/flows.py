"""Webhooks as a subscriber of every catalogued event: for each enabled endpoint of the event's organization
whose filter matches, a pending `webhook_logs` row and a wake-up for the delivery job — in the event delivery's
transaction, so an event is logged for an endpoint exactly once and the job never sees a half-written log.

The event id is the `webhook-id` (receivers dedupe on it: delivery is at least once). A batch endpoint's events
gather in its one open log (not yet attempted) up to its batch size and go out together as a JSON array.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serving.core.clock import utcnow
from serving.core.event_catalogue import CATALOGUE
from serving.core.outbox import Event, Subscriber
from serving.core.queue import enqueue
from serving.webhooks.delivery import event_payload
from serving.webhooks.models import LogStatus, WebhookEndpoint, WebhookLog

DELIVER_TASK = "webhooks.deliver"
ALL = "*"


def matches(event_types: list[str], type_: str) -> bool:
    return ALL in event_types or type_ in event_types


def wake(db_session: Session, organization_id) -> None:
    enqueue(db_session, DELIVER_TASK, queueing_lock=f"webhooks:{organization_id}",
            organization_id=str(organization_id))


def _open_batch(db_session: Session, endpoint: WebhookEndpoint) -> WebhookLog | None:
    """The endpoint's batch still waiting for its first attempt and not full; one being sent is locked, skipped."""
    return db_session.scalars(
        select(WebhookLog).where(
            WebhookLog.endpoint_id == endpoint.id, WebhookLog.status == LogStatus.pending,
            WebhookLog.attempts == 0, WebhookLog.replay_of.is_(None),
            func.jsonb_array_length(WebhookLog.event_ids) < endpoint.batch_max_size,
        ).order_by(WebhookLog.created_at).limit(1).with_for_update(skip_locked=True)
    ).first()


def on_event(*, db_session: Session, event: Event) -> None:
    # the subscriber runs under the event's tenant (RLS); the explicit filter says so too
    endpoints = db_session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.organization_id == event.organization_id,
                                      WebhookEndpoint.enabled.is_(True)).order_by(WebhookEndpoint.created_at)
    ).all()
    targets = [e for e in endpoints if matches(e.event_types, event.type)]
    if not targets:
        return
    payload = event_payload(type=event.type, occurred_at=event.occurred_at, data=event.payload)
    event_id = str(event.id)
    due = utcnow()  # now, not when the event happened (a pipeline may publish with a past or pinned time)
    for endpoint in targets:
        if endpoint.batch:
            item = {"id": event_id, **payload}
            log = _open_batch(db_session, endpoint)
            if log is not None:
                # new lists: JSONB columns are replaced, not mutated in place
                log.event_ids = [*log.event_ids, event_id]
                log.event_types = sorted({*log.event_types, event.type})
                log.payload = [*log.payload, item]
                continue
            log_id = uuid.uuid4()
            db_session.add(WebhookLog(id=log_id, organization_id=event.organization_id, endpoint_id=endpoint.id,
                                      event_ids=[event_id], event_types=[event.type], message_id=f"batch_{log_id}",
                                      payload=[item], status=LogStatus.pending, next_attempt_at=due))
            db_session.flush()  # the next event of this run finds it open
            continue
        db_session.add(WebhookLog(organization_id=event.organization_id, endpoint_id=endpoint.id,
                                  event_ids=[event_id], event_types=[event.type], message_id=event_id,
                                  payload=payload, status=LogStatus.pending, next_attempt_at=due))
    db_session.flush()
    wake(db_session, event.organization_id)


SUBSCRIBERS = [
    Subscriber("webhooks.log", frozenset(CATALOGUE), on_event),
]

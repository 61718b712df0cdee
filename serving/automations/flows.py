"""Flows as a subscriber of record events: each enabled `record_change` flow of the event's organization whose
event and filter match gets a queued execution (in the event delivery's transaction, so one per event and flow)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from serving.automations.definition import RECORD_EVENTS
from serving.automations.executions import queue_execution
from serving.automations.models import IntegrationFlow, TriggerType
from serving.core.clock import utcnow
from serving.core.outbox import Event, Subscriber


def _same(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, bool) or isinstance(actual, bool):
        return actual is wanted
    if isinstance(wanted, int | float) and isinstance(actual, int | float):
        return float(actual) == float(wanted)
    return actual == wanted or (actual is not None and wanted is not None and str(actual) == str(wanted))


def matches(filter_: dict[str, Any], payload: dict[str, Any]) -> bool:
    """Every filtered field equals its value (or one of its values, for a list); ids compare as text."""
    for key, wanted in filter_.items():
        actual = payload.get(key)
        options = wanted if isinstance(wanted, list) else [wanted]
        if not any(_same(actual, option) for option in options):
            return False
    return True


def on_event(*, db_session: Session, event: Event) -> None:
    flows = db_session.scalars(
        select(IntegrationFlow).where(IntegrationFlow.organization_id == event.organization_id,
                                      IntegrationFlow.enabled.is_(True),
                                      IntegrationFlow.trigger_type == TriggerType.record_change,
                                      IntegrationFlow.trigger["event"].astext == event.type)
        .order_by(IntegrationFlow.created_at)
    ).all()
    now = utcnow()
    for flow in flows:
        if matches(flow.trigger.get("filter") or {}, event.payload):
            queue_execution(db_session, flow=flow, trigger_type=TriggerType.record_change,
                            payload={**event.payload, "eventType": event.type, "eventId": str(event.id),
                                     "occurredAt": event.occurred_at.isoformat()},
                            source_event_id=event.id, now=now)


SUBSCRIBERS = [
    Subscriber("automations.record_change", frozenset(RECORD_EVENTS), on_event),
]

"""Flows as a subscriber of record events: each enabled `record_change` flow of the event's organization whose
event and filter match gets a queued execution (in the event delivery's transaction, so one per event and flow)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serving.automations.definition import RECORD_EVENTS
from serving.automations.executions import queue_execution
from serving.automations.models import IntegrationFlow, IntegrationFlowExecution, TriggerType
from serving.core.clock import utcnow
from serving.core.outbox import Event, Subscriber

logger = logging.getLogger(__name__)


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


# A flow started more often than this by record changes within a minute is switched off: most likely it feeds its
# own trigger (a flow on deal.created that creates a deal), which would otherwise run without end.
MAX_STARTS_PER_MINUTE = 60


def _looping(db_session: Session, flow: IntegrationFlow, now: datetime) -> bool:
    recent = db_session.scalar(
        select(func.count()).select_from(IntegrationFlowExecution)
        .where(IntegrationFlowExecution.flow_id == flow.id,
               IntegrationFlowExecution.trigger_type == TriggerType.record_change,
               IntegrationFlowExecution.created_at > now - timedelta(minutes=1)))
    return recent >= MAX_STARTS_PER_MINUTE


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
        if not matches(flow.trigger.get("filter") or {}, event.payload):
            continue
        if _looping(db_session, flow, now):
            logger.warning("flow %s started %s times in a minute: switched off", flow.id, MAX_STARTS_PER_MINUTE)
            flow.enabled, flow.updated_at = False, now
            flow.disabled_reason = (f"started more than {MAX_STARTS_PER_MINUTE} times in a minute by record "
                                    "changes (does it feed its own trigger?): fix it, then enable it again")
            continue
        queue_execution(db_session, flow=flow, trigger_type=TriggerType.record_change,
                        payload={**event.payload, "eventType": event.type, "eventId": str(event.id),
                                 "occurredAt": event.occurred_at.isoformat()},
                        source_event_id=event.id, now=now)


SUBSCRIBERS = [
    Subscriber("automations.record_change", frozenset(RECORD_EVENTS), on_event),
]

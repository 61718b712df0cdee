"""Executions of flows: queueing one (every trigger ends here: the row and its worker job in the caller's
transaction), running one (the job's body), and the scheduler that queues the cron flows that came due."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from serving.automations import engine
from serving.automations.models import ExecutionStatus, IntegrationFlow, IntegrationFlowExecution, TriggerType
from serving.core.clock import utcnow
from serving.core.config import Settings
from serving.core.db import tenant_session
from serving.core.principal import Principal
from serving.core.queue import enqueue

EXECUTE_TASK = "flows.execute"


def next_run(trigger: dict[str, Any], after: datetime) -> datetime:
    """The first cron time strictly after `after`, the cron read in the trigger's time zone (DST included)."""
    zone = ZoneInfo(trigger.get("timezone") or "UTC")
    return croniter(trigger["cron"], after.astimezone(zone)).get_next(datetime).astimezone(after.tzinfo)


def queue_execution(db_session: Session, *, flow: IntegrationFlow, trigger_type: str, payload: dict[str, Any],
                    source_event_id: uuid.UUID | None = None, started_by: uuid.UUID | None = None,
                    now: datetime) -> IntegrationFlowExecution:
    """A queued execution of the flow's current version and its job, in the caller's transaction."""
    execution = IntegrationFlowExecution(
        organization_id=flow.organization_id, flow_id=flow.id, flow_version=flow.version,
        definition={"trigger": flow.trigger, "steps": flow.steps}, trigger_type=trigger_type,
        trigger_payload=engine.plain(payload), source_event_id=source_event_id, status=ExecutionStatus.queued,
        started_by=started_by, created_at=now,
    )
    db_session.add(execution)
    db_session.flush()
    flow.last_run_at = now
    enqueue(db_session, EXECUTE_TASK, organization_id=str(flow.organization_id), execution_id=str(execution.id))
    return execution


def _actor(db_session: Session, flow: IntegrationFlow | None) -> Principal | None:
    user_id = flow and (flow.updated_by or flow.created_by)
    if user_id is None:
        return None
    row = db_session.execute(text("select role, team_id from app.users where id = :u and is_active"),
                             {"u": user_id}).first()
    if row is None:
        return None
    return Principal(organization_id=flow.organization_id, user_id=user_id, role=row.role, team_id=row.team_id)


def context_for(db_session: Session, execution: IntegrationFlowExecution) -> dict[str, Any]:
    """What the mappings see: `trigger` (the payload), `execution`, and for an event the records it names."""
    context: dict[str, Any] = {
        "trigger": execution.trigger_payload,
        "execution": {"id": str(execution.id), "flowId": str(execution.flow_id), "version": execution.flow_version,
                      "triggerType": execution.trigger_type},
    }
    if execution.trigger_type == TriggerType.record_change:
        context.update(engine.records_for(db_session, execution.trigger_payload))
    return context


def run(*, factory: sessionmaker[Session], settings: Settings, organization_id: uuid.UUID,
        execution_id: uuid.UUID, now: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep) -> str | None:
    """Run one execution (the worker job's body); returns its final status, or None when it is gone.

    First marks it running (own transaction, so the API shows it); then runs every step in a second transaction
    that also stores the log and the outcome. A worker that dies mid-run rolls the second back and the job's retry
    runs it again from the start (`runs` counts them; HTTP calls may then repeat)."""
    with tenant_session(factory, organization_id) as session:
        execution = session.get(IntegrationFlowExecution, execution_id, with_for_update=True)
        if execution is None:
            return None
        if execution.status in (ExecutionStatus.succeeded, ExecutionStatus.failed):
            return execution.status
        execution.status, execution.runs = ExecutionStatus.running, execution.runs + 1
        execution.started_at = now()
    with tenant_session(factory, organization_id) as session:
        execution = session.get(IntegrationFlowExecution, execution_id, with_for_update=True)
        flow = session.get(IntegrationFlow, execution.flow_id)
        runner = engine.Runner(db_session=session, settings=settings, actor=_actor(session, flow),
                               organization_id=organization_id, now=now, sleep=sleep,
                               context=context_for(session, execution))
        try:
            runner.run(execution.definition["steps"])
        except engine.ExecutionFailed as exc:
            execution.status, execution.error = ExecutionStatus.failed, str(exc)[:4000]
        else:
            execution.status, execution.error = ExecutionStatus.succeeded, None
        execution.log = runner.log
        execution.finished_at = now()
        return execution.status


def schedule_due(*, factory: sessionmaker[Session], now: datetime) -> int:
    """Queue an execution of every enabled schedule flow whose cron time came (once, however late: missed times
    are not replayed) and move it to its next time. Returns how many were queued."""
    with factory() as session, session.begin():
        organizations = list(session.scalars(text("select * from app.flows_due_organizations(:now)"),
                                             {"now": now}))
    queued = 0
    for organization_id in organizations:
        with tenant_session(factory, organization_id) as session:
            due = session.scalars(
                select(IntegrationFlow).where(IntegrationFlow.enabled.is_(True),
                                              IntegrationFlow.trigger_type == TriggerType.schedule,
                                              IntegrationFlow.next_run_at <= now)
                .order_by(IntegrationFlow.next_run_at).with_for_update(skip_locked=True)
            ).all()
            for flow in due:
                queue_execution(session, flow=flow, trigger_type=TriggerType.schedule,
                                payload={"scheduledAt": flow.next_run_at.isoformat(), "firedAt": now.isoformat()},
                                now=now)
                flow.next_run_at = next_run(flow.trigger, now)
                queued += 1
    return queued

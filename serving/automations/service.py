"""Flow services for the API: save (checked beyond the schema, versioned), enable, run, the hook token (made here,
shown once, stored as a hash), executions, YAML export and import, and the webhook trigger. Keyword-only; they
never commit (the request does). Row-level security keeps every query inside the caller's organization; the hook
route has no caller, so it learns the organization from a definer function and binds it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, text
from sqlalchemy.orm import Session

from serving.automations import definition, executions
from serving.automations.definition import FlowSpec
from serving.automations.models import IntegrationFlow, IntegrationFlowExecution, TriggerType
from serving.core.config import Settings
from serving.core.db import set_tenant
from serving.core.errors import Conflict, NotFound, ValidationFailed
from serving.core.principal import Principal

HOOK_PATH = "/api/v1/flows/hooks"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hook_url(settings: Settings, flow_id: uuid.UUID, token: str) -> str:
    base = (settings.public_api_url or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")
    return f"{base}{HOOK_PATH}/{flow_id}/{token}"


def check(spec: FlowSpec) -> None:
    """422 with the bad step's path for what the schema cannot see (duplicate ids, templates that do not parse)."""
    found = definition.problems(spec)
    if found:
        first = found[0]
        raise ValidationFailed(f"{first['field']}: {first['message']}", code="INVALID_FLOW",
                               details={"field": first["field"], "errors": found})


def get(*, db_session: Session, flow_id: uuid.UUID, lock: bool = False) -> IntegrationFlow:
    stmt = select(IntegrationFlow).where(IntegrationFlow.id == flow_id)
    flow = db_session.scalars(stmt.with_for_update() if lock else stmt).first()
    if flow is None:
        raise NotFound("flow", flow_id)
    return flow


def _by_name(db_session: Session, name: str) -> IntegrationFlow | None:
    return db_session.scalars(select(IntegrationFlow).where(IntegrationFlow.name == name).with_for_update()).first()


def list_query(*, enabled: bool | None, trigger_types: list[str]) -> Select:
    stmt = select(IntegrationFlow)
    if enabled is not None:
        stmt = stmt.where(IntegrationFlow.enabled.is_(enabled))
    if trigger_types:
        stmt = stmt.where(IntegrationFlow.trigger_type.in_(trigger_types))
    return stmt.order_by(IntegrationFlow.name, IntegrationFlow.id)


def _schedule(flow: IntegrationFlow, now: datetime) -> None:
    flow.next_run_at = (executions.next_run(flow.trigger, now)
                        if flow.enabled and flow.trigger_type == TriggerType.schedule else None)


def _apply(flow: IntegrationFlow, spec: FlowSpec, principal: Principal, now: datetime) -> str | None:
    """Write the spec onto the flow; a new hook token (returned) when it became a webhook flow without one."""
    trigger, steps = definition.stored(spec)
    changed = flow.trigger != trigger or flow.steps != steps or flow.name != spec.name
    flow.name, flow.description, flow.enabled = spec.name, spec.description, spec.enabled
    if spec.enabled:
        flow.disabled_reason = None
    flow.trigger_type, flow.trigger, flow.steps = trigger["type"], trigger, steps
    flow.updated_by, flow.updated_at = principal.user_id, now
    if changed and flow.created_at is not None:
        flow.version += 1
    _schedule(flow, now)
    token = None
    if flow.trigger_type == TriggerType.webhook and flow.hook_token_hash is None:
        token = secrets.token_urlsafe(32)
        flow.hook_token_hash = _hash(token)
    elif flow.trigger_type != TriggerType.webhook:
        flow.hook_token_hash = None
    return token


def create(*, db_session: Session, principal: Principal, spec: FlowSpec, now: datetime
           ) -> tuple[IntegrationFlow, str | None]:
    check(spec)
    if _by_name(db_session, spec.name) is not None:
        raise Conflict(f"a flow named {spec.name!r} exists already", code="DUPLICATE_FLOW_NAME",
                       details={"field": "name", "value": spec.name})
    flow = IntegrationFlow(organization_id=principal.organization_id, version=1, created_by=principal.user_id)
    token = _apply(flow, spec, principal, now)
    flow.created_at = now
    db_session.add(flow)
    db_session.flush()
    return flow, token


def replace(*, db_session: Session, principal: Principal, flow_id: uuid.UUID, spec: FlowSpec, now: datetime
            ) -> tuple[IntegrationFlow, str | None]:
    """The new definition (a new version when the trigger, steps or name changed)."""
    check(spec)
    flow = get(db_session=db_session, flow_id=flow_id, lock=True)
    other = _by_name(db_session, spec.name)
    if other is not None and other.id != flow.id:
        raise Conflict(f"a flow named {spec.name!r} exists already", code="DUPLICATE_FLOW_NAME",
                       details={"field": "name", "value": spec.name})
    token = _apply(flow, spec, principal, now)
    db_session.flush()
    return flow, token


def delete(*, db_session: Session, flow_id: uuid.UUID) -> None:
    db_session.delete(get(db_session=db_session, flow_id=flow_id, lock=True))
    db_session.flush()


def set_enabled(*, db_session: Session, principal: Principal, flow_id: uuid.UUID, enabled: bool,
                now: datetime) -> IntegrationFlow:
    flow = get(db_session=db_session, flow_id=flow_id, lock=True)
    flow.enabled, flow.updated_at, flow.disabled_reason = enabled, now, None
    _schedule(flow, now)
    db_session.flush()
    return flow


def rotate_hook_token(*, db_session: Session, flow_id: uuid.UUID, now: datetime) -> tuple[IntegrationFlow, str]:
    flow = get(db_session=db_session, flow_id=flow_id, lock=True)
    if flow.trigger_type != TriggerType.webhook:
        raise ValidationFailed("only a webhook-triggered flow has a hook URL", code="NOT_A_WEBHOOK_FLOW",
                               details={"field": "trigger.type", "value": flow.trigger_type})
    token = secrets.token_urlsafe(32)
    flow.hook_token_hash, flow.updated_at = _hash(token), now
    db_session.flush()
    return flow, token


def run_now(*, db_session: Session, principal: Principal, flow_id: uuid.UUID, payload: dict[str, Any],
            now: datetime) -> IntegrationFlowExecution:
    """A manual run (any flow, enabled or not: trying a flow out is the point)."""
    flow = get(db_session=db_session, flow_id=flow_id, lock=True)
    return executions.queue_execution(db_session, flow=flow, trigger_type=TriggerType.manual, payload=payload,
                                      started_by=principal.user_id, now=now)


def executions_query(*, flow_id: uuid.UUID, statuses: list[str]) -> Select:
    stmt = select(IntegrationFlowExecution).where(IntegrationFlowExecution.flow_id == flow_id)
    if statuses:
        stmt = stmt.where(IntegrationFlowExecution.status.in_(statuses))
    return stmt.order_by(IntegrationFlowExecution.created_at.desc(), IntegrationFlowExecution.id.desc())


def get_execution(*, db_session: Session, flow_id: uuid.UUID, execution_id: uuid.UUID) -> IntegrationFlowExecution:
    execution = db_session.scalars(select(IntegrationFlowExecution).where(
        IntegrationFlowExecution.id == execution_id, IntegrationFlowExecution.flow_id == flow_id)).first()
    if execution is None:
        raise NotFound("flow execution", execution_id)
    return execution


def export_yaml(*, db_session: Session, flow_id: uuid.UUID) -> tuple[IntegrationFlow, str]:
    flow = get(db_session=db_session, flow_id=flow_id)
    return flow, definition.to_yaml(name=flow.name, description=flow.description, enabled=flow.enabled,
                                    version=flow.version, trigger=flow.trigger, steps=flow.steps)


def import_yaml(*, db_session: Session, principal: Principal, source: str, now: datetime
                ) -> tuple[IntegrationFlow, bool, str | None]:
    """Create the document's flow, or replace the one with its name (a new version if it differs): applying the
    same file twice changes nothing, so flows can be kept in git and applied from CI."""
    try:
        spec = definition.from_yaml(source)
    except definition.InvalidDocument as exc:
        first = exc.errors[0]["field"] if exc.errors else None
        raise ValidationFailed(str(exc), code="INVALID_FLOW_DOCUMENT",
                               details={"field": first, "errors": exc.errors}) from exc
    existing = _by_name(db_session, spec.name)
    if existing is None:
        flow, token = create(db_session=db_session, principal=principal, spec=spec, now=now)
        return flow, True, token
    flow, token = replace(db_session=db_session, principal=principal, flow_id=existing.id, spec=spec, now=now)
    return flow, False, token


def receive_hook(*, db_session: Session, flow_id: uuid.UUID, token: str, payload: dict[str, Any],
                 now: datetime) -> IntegrationFlowExecution:
    """The webhook trigger: a queued execution when the token is the flow's (compared in constant time). An unknown
    flow, a disabled one and a wrong token all answer the same 404, so the URL reveals nothing."""
    organization_id = db_session.scalar(text("select app.flow_hook_organization(:f)"), {"f": flow_id})
    if organization_id is None:
        raise NotFound("flow", flow_id)
    set_tenant(db_session, organization_id)
    flow = db_session.get(IntegrationFlow, flow_id, with_for_update=True)
    if flow is None or flow.hook_token_hash is None or not hmac.compare_digest(flow.hook_token_hash, _hash(token)):
        raise NotFound("flow", flow_id)
    return executions.queue_execution(db_session, flow=flow, trigger_type=TriggerType.webhook, payload=payload,
                                      now=now)

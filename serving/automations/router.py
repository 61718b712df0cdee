"""/flows (seed 5.2): integration flows — CRUD, enable/disable, manual runs, executions with their step logs,
versioned YAML export/import — and the public webhook trigger `/flows/hooks/{flowId}/{token}`. Reading needs
`integrations:read`; changing or running a flow needs `integrations:write` and an admin."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from serving.automations import service
from serving.automations.definition import MAX_YAML_BYTES, FlowSpec
from serving.automations.models import ExecutionStatus, TriggerType
from serving.automations.schemas import (
    ExecutionDetail,
    ExecutionOut,
    ExecutionPage,
    FlowOut,
    FlowPage,
    FlowSaved,
    HookAccepted,
    HookToken,
    RunIn,
)
from serving.core.clock import utcnow
from serving.core.deps import AppSettings, DbSession, require
from serving.core.errors import Forbidden, PayloadTooLarge, ValidationFailed
from serving.core.listing import parse_choices
from serving.core.pagination import Pagination, paginate
from serving.core.permissions import Scope
from serving.core.principal import Principal

router = APIRouter()
hooks_router = APIRouter()
Reader = Annotated[Principal, require(Scope.integrations_read)]


def _admin_writer(principal: Annotated[Principal, require(Scope.integrations_write)]) -> Principal:
    if not principal.is_admin:
        raise Forbidden("only admins change or run flows", code="INSUFFICIENT_ROLE",
                        details={"requiredRole": "admin", "role": principal.role})
    return principal


Writer = Annotated[Principal, Depends(_admin_writer)]
YAML_BODY = {"requestBody": {"required": True, "content": {"application/yaml": {"schema": {"type": "string"}}}}}


def _saved(flow, token: str | None, settings, *, created: bool = False) -> FlowSaved:
    return FlowSaved.model_validate({
        **FlowOut.model_validate(flow).model_dump(), "created": created,
        "hook_url": service.hook_url(settings, flow.id, token) if token else None,
    })


@router.post("", response_model=FlowSaved, status_code=201,
             summary="Create a flow (a webhook flow's hook URL, with its token, is in this answer only)")
def create_flow(body: FlowSpec, db: DbSession, principal: Writer, settings: AppSettings):
    flow, token = service.create(db_session=db, principal=principal, spec=body, now=utcnow())
    return _saved(flow, token, settings, created=True)


@router.get("", response_model=FlowPage, summary="The organization's flows, by name")
def list_flows(
    db: DbSession, principal: Reader, pagination: Pagination,
    enabled: bool | None = None,
    trigger_type: Annotated[str | None, Query(alias="triggerType", max_length=100,
                                              description="webhook,schedule,manual,record_change")] = None,
):
    stmt = service.list_query(enabled=enabled, trigger_types=[
        t.value for t in parse_choices(trigger_type, TriggerType, field="triggerType")])
    items, meta = paginate(db, stmt, pagination)
    return FlowPage(data=[FlowOut.model_validate(f) for f in items], pagination=meta)


@router.post("/import", response_model=FlowSaved, openapi_extra=YAML_BODY,
             summary="Create or update (by name) a flow from its YAML document (apiVersion revorc.dev/flows/v1)")
async def import_flow(request: Request, response: Response, db: DbSession, principal: Writer,
                      settings: AppSettings):
    raw = await request.body()
    if len(raw) > MAX_YAML_BYTES:
        raise PayloadTooLarge(f"a flow document is at most {MAX_YAML_BYTES // 1024} KiB")
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed("the document is not UTF-8 text", code="INVALID_FLOW_DOCUMENT") from exc
    flow, created, token = service.import_yaml(db_session=db, principal=principal, source=source, now=utcnow())
    response.status_code = 201 if created else 200
    return _saved(flow, token, settings, created=created)


@router.get("/{flow_id}", response_model=FlowOut, summary="One flow")
def get_flow(flow_id: uuid.UUID, db: DbSession, principal: Reader):
    return service.get(db_session=db, flow_id=flow_id)


@router.put("/{flow_id}", response_model=FlowSaved,
            summary="Replace a flow's definition (a new version when the trigger, steps or name change)")
def replace_flow(flow_id: uuid.UUID, body: FlowSpec, db: DbSession, principal: Writer, settings: AppSettings):
    flow, token = service.replace(db_session=db, principal=principal, flow_id=flow_id, spec=body, now=utcnow())
    return _saved(flow, token, settings)


@router.delete("/{flow_id}", status_code=204, summary="Delete a flow and its executions")
def delete_flow(flow_id: uuid.UUID, db: DbSession, principal: Writer):
    service.delete(db_session=db, flow_id=flow_id)


@router.post("/{flow_id}/enable", response_model=FlowOut, summary="Let the flow's trigger start it")
def enable_flow(flow_id: uuid.UUID, db: DbSession, principal: Writer):
    return service.set_enabled(db_session=db, principal=principal, flow_id=flow_id, enabled=True, now=utcnow())


@router.post("/{flow_id}/disable", response_model=FlowOut, summary="Stop the trigger (manual runs still work)")
def disable_flow(flow_id: uuid.UUID, db: DbSession, principal: Writer):
    return service.set_enabled(db_session=db, principal=principal, flow_id=flow_id, enabled=False, now=utcnow())


@router.post("/{flow_id}/rotate-hook-token", response_model=HookToken,
             summary="A new hook URL for a webhook flow (shown once; the old one stops working)")
def rotate_hook_token(flow_id: uuid.UUID, db: DbSession, principal: Writer, settings: AppSettings):
    flow, token = service.rotate_hook_token(db_session=db, flow_id=flow_id, now=utcnow())
    return HookToken(hook_url=service.hook_url(settings, flow.id, token))


@router.post("/{flow_id}/run", response_model=ExecutionOut, status_code=202,
             summary="Run the flow now (queued for the worker), with an optional payload as `trigger`")
def run_flow(flow_id: uuid.UUID, db: DbSession, principal: Writer, body: RunIn | None = None):
    return service.run_now(db_session=db, principal=principal, flow_id=flow_id, payload=(body or RunIn()).payload,
                           now=utcnow())


@router.get("/{flow_id}/executions", response_model=ExecutionPage, summary="The flow's executions, newest first")
def list_executions(
    flow_id: uuid.UUID, db: DbSession, principal: Reader, pagination: Pagination,
    status: Annotated[str | None, Query(max_length=100, description="queued,running,succeeded,failed")] = None,
):
    service.get(db_session=db, flow_id=flow_id)  # 404 for a flow that is not the caller's
    stmt = service.executions_query(flow_id=flow_id, statuses=[
        s.value for s in parse_choices(status, ExecutionStatus, field="status")])
    items, meta = paginate(db, stmt, pagination)
    return ExecutionPage(data=[ExecutionOut.model_validate(e) for e in items], pagination=meta)


@router.get("/{flow_id}/executions/{execution_id}", response_model=ExecutionDetail,
            summary="One execution with its step-by-step log")
def get_execution(flow_id: uuid.UUID, execution_id: uuid.UUID, db: DbSession, principal: Reader):
    return service.get_execution(db_session=db, flow_id=flow_id, execution_id=execution_id)


@router.get("/{flow_id}/export", summary="The flow as a versioned YAML document (for git)",
            responses={200: {"content": {"application/yaml": {"schema": {"type": "string"}}}}},
            response_class=Response)
def export_flow(flow_id: uuid.UUID, db: DbSession, principal: Reader):
    flow, document = service.export_yaml(db_session=db, flow_id=flow_id)
    return Response(document, media_type="application/yaml",
                    headers={"content-disposition": f'attachment; filename="flow-{flow.id}.yaml"'})


# No authentication: the secret token in the path is the credential (see service.receive_hook).
@hooks_router.post("/flows/hooks/{flow_id}/{token}", response_model=HookAccepted, status_code=202, tags=["flows"],
                   summary="Start a webhook-triggered flow; the JSON body is the flow's `trigger`")
def flow_hook(flow_id: uuid.UUID, token: Annotated[str, Path(max_length=200)], db: DbSession,
              body: Annotated[dict[str, Any] | None, Body()] = None):
    execution = service.receive_hook(db_session=db, flow_id=flow_id, token=token, payload=body or {},
                                     now=utcnow())
    return HookAccepted(execution_id=execution.id, status=execution.status)

"""/bdr: the BDR agent — its configuration, its tasks, the approval queue, handoffs, the decision log and
performance. Readers need `bdr:read`; acting on approvals and handoffs needs `bdr:write`; the configuration and
running the agent on demand are for admins."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter

from serving.bdr import agent
from serving.bdr.models import ApprovalStatus, BdrApprovalQueue, BdrHandoff, HandoffStatus, TaskStatus
from serving.bdr.schemas import (
    AgentSettings,
    ApprovalOut,
    ApproveIn,
    ConfigIn,
    ConfigOut,
    DecisionOut,
    HandoffOut,
    PerformanceOut,
    RejectIn,
    RunOut,
    TaskOut,
)
from serving.core.deps import AdminPrincipal, AppSettings, DbSession, require
from serving.core.errors import Conflict, NotFound
from serving.core.pagination import Page, Pagination, page_of, paginate
from serving.core.permissions import Scope
from serving.core.principal import Principal
from serving.prospects.models import Prospect

router = APIRouter()

Reader = Annotated[Principal, require(Scope.bdr_read)]
Writer = Annotated[Principal, require(Scope.bdr_write)]


def _config_out(row) -> ConfigOut:
    if row is None:  # never configured: the defaults, switched off
        return ConfigOut(enabled=False, approval_mode="all", acting_user_id=None,
                         settings=AgentSettings().model_dump(mode="json", by_alias=True), updated_at=None)
    return ConfigOut(enabled=row.enabled, approval_mode=row.approval_mode, acting_user_id=row.acting_user_id,
                     settings=agent.agent_settings(row).model_dump(mode="json", by_alias=True),
                     updated_at=row.updated_at)


def _get(db, model, item_id: uuid.UUID, what: str):
    row = agent.get(db_session=db, model=model, item_id=item_id)
    if row is None:
        raise NotFound(what, item_id)
    return row


@router.get("/config", response_model=ConfigOut, summary="The agent's configuration (defaults when never saved)")
def get_config(db: DbSession, principal: Reader):
    return _config_out(agent.get_config(db_session=db, organization_id=principal.organization_id))


@router.put("/config", response_model=ConfigOut,
            summary="Save the configuration (admins); the agent then sends as the saving admin")
def put_config(body: ConfigIn, db: DbSession, principal: AdminPrincipal, _scope: Writer):
    return _config_out(agent.put_config(db_session=db, principal=principal, data=body))


@router.get("/tasks", response_model=Page[TaskOut], summary="The agent's steps per prospect, newest first")
def list_tasks(db: DbSession, principal: Reader, pagination: Pagination, status: TaskStatus | None = None):
    items, meta = paginate(db, agent.tasks(status=status), pagination)
    return page_of([TaskOut.model_validate(r) for r in items], meta)


@router.get("/handoffs", response_model=Page[HandoffOut], summary="Prospects handed to humans, newest first")
def list_handoffs(db: DbSession, principal: Reader, pagination: Pagination, status: HandoffStatus | None = None):
    items, meta = paginate(db, agent.handoffs(status=status), pagination)
    return page_of([HandoffOut.model_validate(r) for r in items], meta)


@router.post("/handoffs/{handoff_id}/accept", response_model=HandoffOut, summary="Take over a handed-off prospect")
def accept_handoff(handoff_id: uuid.UUID, db: DbSession, principal: Writer):
    row = _get(db, BdrHandoff, handoff_id, "handoff")
    return HandoffOut.model_validate(agent.accept_handoff(db_session=db, principal=principal, row=row))


@router.get("/approvals", response_model=Page[ApprovalOut], summary="Messages waiting for a human, newest first")
def list_approvals(db: DbSession, principal: Reader, pagination: Pagination,
                   status: ApprovalStatus | None = None):
    items, meta = paginate(db, agent.approvals(status=status), pagination)
    return page_of([ApprovalOut.model_validate(r) for r in items], meta)


@router.post("/approvals/{approval_id}/approve", response_model=ApprovalOut,
             summary="Send the queued draft; a subject or body in the body edits it first (checked again)")
def approve(approval_id: uuid.UUID, db: DbSession, settings: AppSettings, principal: Writer,
            _send: Annotated[Principal, require(Scope.emails_send)], body: ApproveIn | None = None):
    entry = _get(db, BdrApprovalQueue, approval_id, "approval")
    edit = body or ApproveIn()
    return ApprovalOut.model_validate(agent.approve(db_session=db, settings=settings, principal=principal,
                                                    entry=entry, subject=edit.subject, body=edit.body))


@router.post("/approvals/{approval_id}/reject", response_model=ApprovalOut, summary="Reject with a reason")
def reject(approval_id: uuid.UUID, body: RejectIn, db: DbSession, principal: Writer):
    entry = _get(db, BdrApprovalQueue, approval_id, "approval")
    return ApprovalOut.model_validate(agent.reject(db_session=db, principal=principal, entry=entry,
                                                   reason=body.reason))


@router.get("/performance", response_model=PerformanceOut,
            summary="Leads contacted, replies, handoffs, meetings booked, response and handoff rates")
def performance(db: DbSession, principal: Reader):
    return PerformanceOut(**agent.performance(db_session=db))


@router.get("/prospects/{prospect_id}/decisions", response_model=Page[DecisionOut],
            summary="Why the agent did what it did with a prospect, oldest first")
def prospect_decisions(prospect_id: uuid.UUID, db: DbSession, principal: Reader, pagination: Pagination):
    _get(db, Prospect, prospect_id, "prospect")
    items, meta = paginate(db, agent.decisions(prospect_id=prospect_id), pagination)
    return page_of([DecisionOut.model_validate(r) for r in items], meta)


@router.post("/run", response_model=RunOut, summary="Run discovery and engagement now (admins)")
def run_now(db: DbSession, settings: AppSettings, principal: AdminPrincipal, _scope: Writer):
    config = agent.get_config(db_session=db, organization_id=principal.organization_id)
    if config is None:
        raise Conflict("the BDR agent is not configured: PUT /bdr/config first", code="BDR_NOT_CONFIGURED")
    execution, found, results = agent.run(db_session=db, settings=settings, config=config, trigger="run")
    return RunOut(execution_id=execution.id, discovered=found.picked, skipped=len(found.skipped),
                  queued_for_approval=[r.prospect_id for r in results if r.outcome == "queued"],
                  sent=[r.prospect_id for r in results if r.outcome == "sent"],
                  held=[{"prospectId": str(r.prospect_id), "outcome": r.outcome, "reason": r.reason}
                        for r in results if r.outcome not in ("queued", "sent")])

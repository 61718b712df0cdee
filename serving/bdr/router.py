"""/bdr: the BDR agent — its configuration, its tasks, the approval queue, handoffs, the decision log and
performance. Readers need `bdr:read`; acting on approvals and handoffs needs `bdr:write`; the configuration and
running the agent on demand are for admins."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter
from pydantic import Field

from serving.bdr import agent, config_shapes, learning
from serving.bdr.config_shapes import SeedConfigIn
from serving.bdr.models import (
    ApprovalStatus,
    BdrApprovalQueue,
    BdrHandoff,
    BdrMessageVariant,
    BdrPolicyBacktest,
    HandoffStatus,
    TaskStatus,
)
from serving.bdr.schemas import (
    ApprovalOut,
    ApproveIn,
    BacktestIn,
    BacktestOut,
    ConfigIn,
    ConfigOut,
    DayOut,
    DecisionOut,
    HandoffOut,
    PerformanceOut,
    RejectIn,
    RunOut,
    TaskOut,
    VariantIn,
    VariantOut,
    VariantUpdate,
)
from serving.core.deps import AdminPrincipal, AppSettings, DbSession, require
from serving.core.errors import Conflict, NotFound, ValidationFailed
from serving.core.pagination import Page, Pagination, page_of, paginate
from serving.core.permissions import Scope
from serving.core.principal import Principal
from serving.prospects.models import Prospect

router = APIRouter()

Reader = Annotated[Principal, require(Scope.bdr_read)]
Writer = Annotated[Principal, require(Scope.bdr_write)]


def _config_out(row) -> ConfigOut:
    # never configured: the defaults, switched off
    enabled, mode = (row.enabled, row.approval_mode) if row is not None else (False, "all")
    cfg = agent.agent_settings(row)
    return ConfigOut(enabled=enabled, approval_mode=mode, acting_user_id=row.acting_user_id if row else None,
                     settings=cfg.model_dump(mode="json", by_alias=True), updated_at=row.updated_at if row else None,
                     **config_shapes.flat(enabled=enabled, approval_mode=mode, settings=cfg))


def _get(db, model, item_id: uuid.UUID, what: str):
    row = agent.get(db_session=db, model=model, item_id=item_id)
    if row is None:
        raise NotFound(what, item_id)
    return row


@router.get("/config", response_model=ConfigOut, summary="The agent's configuration (defaults when never saved)")
def get_config(db: DbSession, principal: Reader):
    return _config_out(agent.get_config(db_session=db, organization_id=principal.organization_id))


@router.put("/config", response_model=ConfigOut,
            summary="Save the configuration (admins): the nested shape replaces it, the seed's flat fields "
                    "(isActive, maxDailyTouches …) change only what they name; the agent sends as the saving admin")
def put_config(body: Annotated[ConfigIn | SeedConfigIn, Field(union_mode="left_to_right")], db: DbSession,
               principal: AdminPrincipal, _scope: Writer):
    if isinstance(body, SeedConfigIn):  # the seed's flat fields: only those named change
        return _config_out(agent.put_seed_config(db_session=db, principal=principal, seed=body))
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
def performance(db: DbSession, principal: Reader, since: date | None = None, until: date | None = None):
    """Totals over `since`–`until` (UTC days, both included; all time when absent); `daily` the recorded days of
    that range (the last 30 when no range is given)."""
    if since is not None and until is not None and since > until:
        raise ValidationFailed("since is after until", code="INVALID_RANGE",
                               details={"since": since.isoformat(), "until": until.isoformat()})
    start = datetime.combine(since, time.min, UTC) if since else None
    end = datetime.combine(until + timedelta(days=1), time.min, UTC) if until else None
    return PerformanceOut(**agent.performance(db_session=db, since=start, until=end),
                          daily=[DayOut.model_validate(d) for d in agent.daily(db_session=db, since=since,
                                                                               until=until)])


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


# --- learning: messaging variants (a bandit) and the policy backtest that gates sending without review ------------

def _variant_out(stats: learning.VariantStats) -> VariantOut:
    v = stats.variant
    return VariantOut(id=v.id, name=v.name, tone=v.tone, instructions=v.instructions, status=v.status,
                      sends=stats.sends, replies=stats.replies, positive_replies=stats.positive,
                      posterior_mean=stats.posterior_mean, probability_best=stats.probability_best,
                      winner=stats.winner, winner_at=v.winner_at, created_at=v.created_at)


def _one_variant(db, principal: Principal, variant_id: uuid.UUID) -> VariantOut:
    stats = learning.variant_stats(db_session=db, organization_id=principal.organization_id)
    return _variant_out(next(s for s in stats if s.variant.id == variant_id))


@router.get("/variants", response_model=Page[VariantOut],
            summary="Messaging variants under test, with sends, replies and each one's chance of being the best")
def list_variants(db: DbSession, principal: Reader, pagination: Pagination):
    items, meta = paginate(db, learning.variants(organization_id=principal.organization_id), pagination)
    # the chance of being the best is among all active variants, whichever page they are on
    stats = {s.variant.id: s for s in learning.variant_stats(db_session=db, organization_id=principal.organization_id)}
    return page_of([_variant_out(stats[v.id]) for v in items], meta)


@router.post("/variants", response_model=VariantOut, status_code=201, summary="Add a messaging variant (admins)")
def create_variant(body: VariantIn, db: DbSession, principal: AdminPrincipal, _scope: Writer):
    row = learning.create_variant(db_session=db, organization_id=principal.organization_id, name=body.name,
                                  tone=body.tone, instructions=body.instructions)
    return _one_variant(db, principal, row.id)


@router.put("/variants/{variant_id}", response_model=VariantOut,
            summary="Pause or resume a variant; its wording changes only while it has no prospects (admins)")
def update_variant(variant_id: uuid.UUID, body: VariantUpdate, db: DbSession, principal: AdminPrincipal,
                   _scope: Writer):
    row = _get(db, BdrMessageVariant, variant_id, "variant")
    learning.update_variant(db_session=db, row=row, status=body.status, instructions=body.instructions,
                            tone=body.tone)
    return _one_variant(db, principal, row.id)


def _backtest_out(row: BdrPolicyBacktest, current_hash: str | None) -> BacktestOut:
    return BacktestOut(id=row.id, created_at=row.created_at, days=row.days, settings_hash=row.settings_hash,
                       settings=row.settings, report=row.report, created_by=row.created_by,
                       accepted_at=row.accepted_at, accepted_by=row.accepted_by,
                       current=row.settings_hash == current_hash)


def _current_hash(db, principal: Principal) -> str | None:
    config = agent.get_config(db_session=db, organization_id=principal.organization_id)
    return learning.settings_hash(agent.agent_settings(config)) if config is not None else None


@router.post("/backtests", response_model=BacktestOut, status_code=201,
             summary="Backtest a policy on the organization's history (admins): the saved settings or those given")
def run_backtest(db: DbSession, principal: AdminPrincipal, _scope: Writer, body: BacktestIn | None = None):
    body = body or BacktestIn()
    cfg = body.settings
    if cfg is None:
        cfg = agent.agent_settings(agent.get_config(db_session=db, organization_id=principal.organization_id))
    row = learning.run_backtest(db_session=db, principal=principal, cfg=cfg, days=body.days)
    return _backtest_out(row, _current_hash(db, principal))


@router.get("/backtests", response_model=Page[BacktestOut], summary="Backtests, newest first")
def list_backtests(db: DbSession, principal: Reader, pagination: Pagination):
    items, meta = paginate(db, learning.backtests(organization_id=principal.organization_id), pagination)
    current = _current_hash(db, principal)
    return page_of([_backtest_out(r, current) for r in items], meta)


@router.post("/backtests/{backtest_id}/accept", response_model=BacktestOut,
             summary="Accept a backtest's report (admins): its settings may then send without review")
def accept_backtest(backtest_id: uuid.UUID, db: DbSession, principal: AdminPrincipal, _scope: Writer):
    row = _get(db, BdrPolicyBacktest, backtest_id, "backtest")
    return _backtest_out(learning.accept(db_session=db, principal=principal, row=row), _current_hash(db, principal))

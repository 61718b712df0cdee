"""/scoring: real-time lead scores, model versions (promote / roll back), the team's custom rule set; and the
scores shown on records: a prospect's insights (under /prospects) and a deal's health (under /deals)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from serving.audit import service as audit
from serving.core import fast_read
from serving.core.deps import AdminPrincipal, AppSettings, DbSession, require
from serving.core.errors import Conflict, NotFound, ValidationFailed
from serving.core.pagination import Page, Pagination, PaginationMeta, page_of
from serving.core.permissions import Scope
from serving.core.principal import Principal
from serving.deals import service as deals_service
from serving.deals.schemas import DealHealthOut, RiskReasonOut
from serving.prospects import service as prospects_service
from serving.prospects.schemas import ProspectInsights
from serving.scoring import deal_health as deal_health_service
from serving.scoring import insights, prediction_log, service
from serving.scoring.models import ScoringRuleSet
from serving.scoring.schemas import (
    ModelVersionOut,
    PromoteRequest,
    PromoteResult,
    RuleSetIn,
    RuleSetOut,
    ScoreRequest,
    ScoreResult,
)

router = APIRouter()
# Mounted under /prospects: a prospect's scores and what drives them.
prospect_insights_router = APIRouter()
# Mounted under /deals: a deal's risk and health.
deal_health_router = APIRouter()
DealReader = Annotated[Principal, require(Scope.deals_read)]

Reader = Annotated[Principal, require(Scope.prospects_read)]
Writer = Annotated[Principal, require(Scope.prospects_write)]


async def _credentials_sent(request: Request) -> None:
    # Checked before the body, as the `Writer` dependency did: a request without credentials is 401, not 422.
    request.app.state.plan_authentication(request, request.app.state.settings)


@router.post("/score", response_model=ScoreResult, summary="Score a prospect's features in real time",
             dependencies=[Depends(_credentials_sent)])
async def score(body: ScoreRequest, request: Request) -> Response:
    # On the event loop (serving/core/fast_read.py): authentication, tenant binding and the reads (the team's rules
    # included) in one round trip, the compiled champion inline, the prediction queued on the log the API writes
    # in batches (serving/scoring/prediction_log.py), the response serialized once.
    settings = request.app.state.settings
    principal, read = await fast_read.read_row(request, scope=Scope.prospects_write, sql=service.SCORE_READ_SQL,
                                               params=service.score_read_params(body))
    try:
        result = await service.score_realtime_fast(
            read=read, organization_id=principal.organization_id, team_id=body.team_id or principal.team_id,
            request=body, home=settings.home, session_factory=request.app.state.session_factory,
            run_blocking=run_in_threadpool, log=prediction_log.log_for(settings))
    except service.NotVisible as exc:
        raise NotFound(*exc.args) from None
    except service.NoChampion as exc:
        raise Conflict(str(exc), code="NO_CHAMPION_MODEL") from None
    return fast_read.json_response(ScoreResult, result)


@router.get("/models", response_model=Page[ModelVersionOut], summary="Model versions with metrics, newest first")
def list_models(db: DbSession, principal: Reader, pagination: Pagination):
    rows = service.list_models(db_session=db)
    window = rows[pagination.offset:pagination.offset + pagination.limit]
    meta = PaginationMeta(page=pagination.page, limit=pagination.limit, total=len(rows),
                          pages=-(-len(rows) // pagination.limit) if rows else 0)
    return page_of([ModelVersionOut.model_validate(r) for r in window], meta)


@router.post("/models/{version}/promote", response_model=PromoteResult,
             summary="Make a version champion (admins); an older version is a rollback")
def promote_model(version: str, db: DbSession, principal: AdminPrincipal, settings: AppSettings,
                  body: PromoteRequest | None = None):
    if service.get_model_version(db_session=db, version=version) is None:
        raise NotFound("model version", version)
    try:
        action, previous = service.promote(db_session=db, organization_id=principal.organization_id,
                                           version=version, home=settings.home, reason=body.reason if body else None)
    except (OSError, RuntimeError) as exc:  # missing or untrusted artifact: never serve it
        raise Conflict(f"version {version} cannot be loaded: {exc}", code="MODEL_NOT_LOADABLE") from None
    audit.record(db_session=db, principal=principal,
                 action=action, entity_type="ml_model", entity_id=None,
                 changes={"version": version, "previous": previous})
    return PromoteResult(version=version, action=action, previous_champion=previous, champion=version)


def _team(principal: Principal, team_id: uuid.UUID | None, db) -> uuid.UUID:
    if team_id is not None and team_id != principal.team_id:
        if not principal.is_admin:
            raise NotFound("team", team_id)  # other teams' rule sets are for admins only
        if not service.team_exists(db_session=db, team_id=team_id):
            raise NotFound("team", team_id)
        return team_id
    if principal.team_id is None:
        raise ValidationFailed("you belong to no team: pass teamId", details={"field": "teamId"})
    return principal.team_id


def _rule_set_out(row: ScoringRuleSet | None, team_id: uuid.UUID) -> RuleSetOut:
    if row is None:
        return RuleSetOut(team_id=team_id, name=service.DEFAULT_RULE_SET["name"], mode="ml_only", ml_weight=1.0,
                          rule_set=service.DEFAULT_RULE_SET, score_threshold=None, is_default=True)
    return RuleSetOut(team_id=row.team_id, name=row.name, mode=row.mode, ml_weight=row.ml_weight,
                      rule_set=row.rules, score_threshold=row.score_threshold, updated_at=row.updated_at)


@router.get("/rules", response_model=RuleSetOut, summary="The team's custom scoring rules")
def get_rules(db: DbSession, principal: Reader,
              team_id: Annotated[uuid.UUID | None, Query(alias="teamId")] = None):
    team = _team(principal, team_id, db)
    return _rule_set_out(service.get_rule_set(db_session=db, team_id=team), team)


@router.put("/rules", response_model=RuleSetOut, summary="Replace the team's custom scoring rules (validated)")
def put_rules(body: RuleSetIn, db: DbSession, principal: Writer,
              team_id: Annotated[uuid.UUID | None, Query(alias="teamId")] = None):
    team = _team(principal, team_id, db)
    try:
        rule_set = service.validate_rule_set(body.rule_set)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in ("ruleSet", *e["loc"])), "message": e["msg"]}
                  for e in exc.errors(include_url=False)]
        raise ValidationFailed("invalid rule set: " + "; ".join(e["message"] for e in errors),
                               details=errors) from None
    row = service.put_rule_set(db_session=db, organization_id=principal.organization_id, team_id=team,
                               rule_set=rule_set, score_threshold=body.score_threshold, user_id=principal.user_id)
    audit.record(db_session=db, principal=principal, action="update",
                 entity_type="scoring_rule_set", entity_id=row.id,
                 changes={"mode": rule_set.mode, "rules": len(rule_set.rules), "threshold": body.score_threshold})
    return _rule_set_out(row, team)


@prospect_insights_router.get("/{prospect_id}/insights", response_model=ProspectInsights,
                              summary="Scores and what drives them")
def prospect_insights(prospect_id: uuid.UUID, db: DbSession, principal: Reader):
    prospect = prospects_service.get(db_session=db, prospect_id=prospect_id)
    if prospect is None:
        raise NotFound("prospect", prospect_id)
    return insights.build(db_session=db, prospect=prospect)


@deal_health_router.get("/{deal_id}/health", response_model=DealHealthOut,
                        summary="Risk and health: a model's score when one exists, else the deal-risk rule "
                                "computed live")
def deal_health(deal_id: uuid.UUID, db: DbSession, principal: DealReader):
    deal = deals_service.get(db_session=db, deal_id=deal_id)
    if deal is None:
        raise NotFound("deal", deal_id)
    result = deal_health_service.assess(db_session=db, deal=deal)
    return DealHealthOut(
        deal_id=deal_id, source=result.source, score=result.score, risk_score=result.risk_score,
        level=result.level, reasons=[RiskReasonOut.model_validate(r, from_attributes=True) for r in result.reasons],
        facts=result.facts, computed_at=result.computed_at, model_version=result.model_version,
    )

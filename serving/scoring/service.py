"""Lead-scoring business rules for the API: model versions and promotion, team rule sets, real-time scoring.

Keyword-only functions on a tenant-bound session; no HTTP, no commits (the request boundary commits).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from models.lead_scoring.rules import RuleSet
from serving.core.clock import utcnow
from serving.core.db import tenant_session
from serving.scoring import model_cache, prediction_log, realtime
from serving.scoring.models import LEAD_SCORING, LeadScoreHistory, MlModel, ScoringRuleSet
from serving.scoring.registry_store import organization_registry
from serving.scoring.schemas import ScoreRequest

DEFAULT_RULE_SET = {"name": "Model score only", "mode": "ml_only", "ml_weight": 1.0, "base_points": 0,
                    "rules": []}


class NoChampion(LookupError):
    """The organization has no champion model yet."""


def list_models(*, db_session: Session) -> list[MlModel]:
    return list(db_session.scalars(
        select(MlModel).where(MlModel.name == LEAD_SCORING)
        .order_by(MlModel.version_number.desc().nulls_last(), MlModel.registered_at.desc())))


def get_model_version(*, db_session: Session, version: str) -> MlModel | None:
    return db_session.scalar(select(MlModel).where(MlModel.name == LEAD_SCORING, MlModel.version == version))


def champion(*, db_session: Session) -> MlModel | None:
    return db_session.scalar(select(MlModel).where(MlModel.name == LEAD_SCORING, MlModel.is_champion))


def promote(*, db_session: Session, organization_id: uuid.UUID, version: str, home: Path,
            reason: str | None) -> tuple[str, str | None]:
    """Make `version` champion: a rollback when it is older than the champion, else a forced promotion.

    The artifact is loaded first (checksum and type allow-list), so a version that cannot serve is never
    made champion. Returns (action, previous champion).
    """
    registry = organization_registry(db_session, organization_id, home=home)
    previous = registry.champion()
    if previous == version:
        return "unchanged", previous
    registry.load(version)
    order = [m["version"] for m in registry.versions()]
    if previous is not None and order.index(version) < order.index(previous):
        registry.rollback(version)
        return "rollback", previous
    registry.promote(version, reason=reason or "promoted through the API")
    return "promote", previous


def get_rule_set(*, db_session: Session, team_id: uuid.UUID) -> ScoringRuleSet | None:
    return db_session.scalar(select(ScoringRuleSet).where(ScoringRuleSet.team_id == team_id))


def validate_rule_set(data: dict[str, Any]) -> RuleSet:
    """The library's validation (columns, operators, known category values); raises pydantic's ValidationError."""
    return RuleSet.model_validate(data)


def put_rule_set(*, db_session: Session, organization_id: uuid.UUID, team_id: uuid.UUID, rule_set: RuleSet,
                 score_threshold: int | None, user_id: uuid.UUID | None) -> ScoringRuleSet:
    row = get_rule_set(db_session=db_session, team_id=team_id)
    if row is None:
        row = ScoringRuleSet(organization_id=organization_id, team_id=team_id)
        db_session.add(row)
    row.name = rule_set.name
    row.mode = rule_set.mode
    row.ml_weight = rule_set.ml_weight
    row.rules = rule_set.model_dump(mode="json")
    row.score_threshold = score_threshold
    row.updated_by = user_id
    db_session.flush()
    return row


def score_history(*, db_session: Session, prospect_id: uuid.UUID, limit: int = 90) -> list[dict[str, Any]]:
    rows = db_session.scalars(select(LeadScoreHistory).where(LeadScoreHistory.prospect_id == prospect_id)
                              .order_by(LeadScoreHistory.score_date.desc()).limit(limit)).all()
    return [{"date": r.score_date.isoformat(), "score": r.score, "mlScore": r.ml_score, "tier": r.tier,
             "modelVersion": r.model_version} for r in reversed(rows)]


# `POST /scoring/score` on the fast path (serving.core.fast_read), read with the authentication in one round trip
# under the caller's tenant: the champion's version and checksum (read on every request, so a promotion in any API
# process is served from the next request on; the loaded model is cached per process), whether the posted
# prospect and team are visible, and the rules that apply: the posted team's, or when no team is posted, every
# team's rule set of the organization (a handful of rows: a team has at most one), from which the caller's own
# team's is taken. The caller's team is only known once the authenticator's row is read, and a second read for
# it was a round trip of its own.
SCORE_READ_SQL = """
select c.version, c.artifact_sha256,
       %(prospect)s::uuid is null or exists (select 1 from app.prospects where id = %(prospect)s) as prospect_visible,
       %(team)s::uuid is null or exists (select 1 from app.teams where id = %(team)s) as team_visible,
       (select rules from app.scoring_rule_sets where team_id = %(team)s) as rules,
       case when %(team)s::uuid is null
            then (select jsonb_object_agg(team_id::text, rules) from app.scoring_rule_sets) end as team_rules
from (select) one
left join app.ml_models c on c.name = %(name)s and c.is_champion
"""


def score_read_params(request: ScoreRequest) -> dict[str, Any]:
    """The parameters of `SCORE_READ_SQL` for a request."""
    return {"prospect": request.prospect_id, "team": request.team_id, "name": LEAD_SCORING}


class NotVisible(LookupError):
    """The posted prospect or team is not visible to the caller: (resource, id)."""


async def score_realtime_fast(*, read: dict[str, Any], organization_id: uuid.UUID, team_id: uuid.UUID | None,
                              request: ScoreRequest, home: Path, session_factory: sessionmaker[Session],
                              run_blocking: Any, log: prediction_log.PredictionLog) -> dict[str, Any]:
    """Score one posted feature payload with the champion and the team's rules, from `read` (the row of
    `SCORE_READ_SQL`, read with the authentication in one round trip), and queue it on the prediction log
    (`prediction_log`: written off the request path within a fraction of a second). Raises NotVisible (prospect
    first, then team), then NoChampion; nothing is logged then.

    The compiled champion runs on the loop (numpy; concurrent rows in one pass); loading an artifact, and a
    team's rules (frame path), run through `run_blocking` (the thread pool), off the event loop. `team_id` is
    the team whose rules apply.
    """
    if not read["prospect_visible"]:
        raise NotVisible("prospect", request.prospect_id)
    if not read["team_visible"]:
        raise NotVisible("team", request.team_id)
    if read["version"] is None:
        raise NoChampion("this organization has no champion lead-scoring model yet: train one "
                         "(`revorc leads train` or the `ml` assets in Dagster) or promote a version")
    version, sha256 = read["version"], read["artifact_sha256"]
    model = model_cache.cached(organization_id=str(organization_id), version=version, sha256=sha256)
    if model is None:
        model = await run_blocking(_load_champion, session_factory=session_factory,
                                   organization_id=organization_id, version=version, sha256=sha256, home=home)
    if team_id is None:
        stored = None
    elif team_id == request.team_id:
        stored = read["rules"]
    else:  # the caller's own team: among the organization's rule sets read with the rest
        stored = (read["team_rules"] or {}).get(str(team_id))
    rule_set = RuleSet.model_validate(stored) if stored is not None else None
    row, team = _feature_row(request), str(team_id) if team_id else None
    scored_at = utcnow()
    scored = await realtime.score_row_on_loop(model=model, row=row, team_id=team, rule_set=rule_set,
                                              explain=request.explain)
    if scored is None:
        scored = await run_blocking(realtime.score_row, model=model, row=row, team_id=team, rule_set=rule_set,
                                    explain=request.explain)
    result = _result(scored, request=request, version=version)
    log.add(prediction_log.Prediction(
        id=result["prediction_id"], organization_id=organization_id, prospect_id=request.prospect_id,
        prediction_type=LEAD_SCORING, model_version=version, inputs_hash=result["inputs_hash"],
        score=result["score"], ml_score=result["ml_score"], probability=result["probability"], tier=result["tier"],
        top_factors=result["top_factors"], created_at=scored_at))
    return result


def _load_champion(*, session_factory: sessionmaker[Session], organization_id: uuid.UUID, version: str,
                   sha256: str, home: Path):
    with tenant_session(session_factory, organization_id) as session:
        return model_cache.get_model(session, organization_id=str(organization_id), version=version,
                                     sha256=sha256, home=home)


def _feature_row(request: ScoreRequest) -> dict[str, Any]:
    features = request.features.model_dump()
    if features.get("intent_spike") is not None:
        features["intent_spike"] = float(features["intent_spike"])
    return {**features, "title": request.title}


def _result(scored: dict[str, Any], *, request: ScoreRequest, version: str) -> dict[str, Any]:
    return {
        "prediction_id": uuid.uuid4(), "score": int(scored["score"]), "ml_score": int(scored["ml_score"]),
        "probability": float(scored["probability"]), "tier": str(scored["tier"]), "mode": str(scored["mode"]),
        "model_version": version, "inputs_hash": str(scored["inputs_hash"]),
        "top_factors": list(scored["top_factors"]) if request.explain else [],
        "baseline": int(scored["baseline"]) if request.explain else None,
        "other_factors_impact": int(scored["other_impact"]) if request.explain else None,
    }


def team_exists(*, db_session: Session, team_id: uuid.UUID) -> bool:
    return db_session.execute(text("select 1 from app.teams where id = :id"), {"id": team_id}).first() is not None

"""Lead-scoring business rules for the API: model versions and promotion, team rule sets, real-time scoring.

Keyword-only functions on a tenant-bound session; no HTTP, no commits (the request boundary commits).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from models.lead_scoring.rules import RuleSet
from serving.scoring import model_cache, realtime
from serving.scoring.models import LEAD_SCORING, AiPrediction, LeadScoreHistory, MlModel, ScoringRuleSet
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


def champion_artifact(*, db_session: Session) -> tuple[str, str] | None:
    """(version, artifact checksum) of the champion: what the model cache is keyed by, without the card."""
    row = db_session.execute(select(MlModel.version, MlModel.artifact_sha256)
                             .where(MlModel.name == LEAD_SCORING, MlModel.is_champion)).first()
    return (row.version, row.artifact_sha256) if row else None


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


def score_realtime(*, db_session: Session, organization_id: uuid.UUID, team_id: uuid.UUID | None,
                   request: ScoreRequest, home: Path) -> tuple[dict[str, Any], AiPrediction]:
    """Score one posted feature payload with the champion and the team's rules; log it to ai_predictions."""
    current = champion_artifact(db_session=db_session)
    if current is None:
        raise NoChampion("this organization has no champion lead-scoring model yet: train one "
                         "(`revorc leads train` or the `ml` assets in Dagster) or promote a version")
    version, sha256 = current
    # The champion's version and checksum are read on every request (one indexed row), so a promotion in any
    # API process is served from the next request on; the loaded model itself is cached per process.
    model = model_cache.get_model(db_session, organization_id=str(organization_id), version=version,
                                  sha256=sha256, home=home)
    features = request.features.model_dump()
    if features.get("intent_spike") is not None:
        features["intent_spike"] = float(features["intent_spike"])
    rule_set = None
    if team_id is not None:
        stored = get_rule_set(db_session=db_session, team_id=team_id)
        if stored is not None:
            rule_set = RuleSet.model_validate(stored.rules)
    scored = realtime.score_row(model=model, row={**features, "title": request.title},
                                team_id=str(team_id) if team_id else None, rule_set=rule_set,
                                explain=request.explain)
    factors = list(scored["top_factors"]) if request.explain else []
    prediction = AiPrediction(
        id=uuid.uuid4(), organization_id=organization_id, prospect_id=request.prospect_id,
        prediction_type=LEAD_SCORING, model_version=version, source="realtime",
        inputs_hash=str(scored["inputs_hash"]), score=int(scored["score"]), ml_score=int(scored["ml_score"]),
        probability=float(scored["probability"]), tier=str(scored["tier"]), top_factors=factors)
    db_session.add(prediction)
    db_session.flush()
    result = {
        "prediction_id": prediction.id, "score": prediction.score, "ml_score": prediction.ml_score,
        "probability": prediction.probability, "tier": prediction.tier, "mode": str(scored["mode"]),
        "model_version": version, "inputs_hash": prediction.inputs_hash, "top_factors": factors,
        "baseline": int(scored["baseline"]) if request.explain else None,
        "other_factors_impact": int(scored["other_impact"]) if request.explain else None,
    }
    return result, prediction


def team_exists(*, db_session: Session, team_id: uuid.UUID) -> bool:
    return db_session.execute(text("select 1 from app.teams where id = :id"), {"id": team_id}).first() is not None

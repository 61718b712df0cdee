"""Training per organization: label-complete rows of `analytics.ml_lead_features` → a registered model.

Pure helpers and small I/O functions the `ml` assets call; the library does the learning, the Postgres
registry store keeps the champion. An organization with too little labelled history is skipped with a
reason instead of failing the run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from models.lead_scoring.evaluate import score_histogram
from models.lead_scoring.explain import to_score
from models.lead_scoring.features import LEAD_FEATURES
from models.lead_scoring.registry import ModelRegistry
from models.lead_scoring.train import NoUsableCandidateError, TrainingResult, train
from serving.scoring.registry_store import PostgresRegistryStore, registry_root

FEATURE_TABLE = "analytics.ml_lead_features"
MIN_LABELLED_ROWS = 200
MIN_POSITIVES = 20
MIN_NEGATIVES = 20
MIN_SNAPSHOT_DATES = 4
ROC_AUC_FLOOR = 0.6  # a model below this is registered for the record but never becomes champion
ROC_AUC_TOLERANCE = 0.02  # the asset check fails when a new model is this much worse than the champion
TRAINING_FILE = "training_set.parquet"
# The mart's bookkeeping columns: carried in the table, never given to the model.
MART_ONLY_COLUMNS = ("feature_row_id", "label_complete")


@dataclass
class Readiness:
    organization_id: str
    rows: int
    positives: int
    snapshot_dates: int
    reason: str | None = None  # None = ready

    @property
    def ready(self) -> bool:
        return self.reason is None


def readiness(rows: int, positives: int, snapshot_dates: int, *, organization_id: str) -> Readiness:
    """Whether an organization has enough labelled history to train and validate on a time split."""
    negatives = rows - positives
    reason = None
    if rows < MIN_LABELLED_ROWS:
        reason = f"{rows} label-complete rows; at least {MIN_LABELLED_ROWS} are needed"
    elif positives < MIN_POSITIVES:
        reason = f"{positives} converted rows; at least {MIN_POSITIVES} are needed"
    elif negatives < MIN_NEGATIVES:
        reason = f"{negatives} non-converted rows; at least {MIN_NEGATIVES} are needed"
    elif snapshot_dates < MIN_SNAPSHOT_DATES:
        reason = (f"{snapshot_dates} label-complete snapshot dates; at least {MIN_SNAPSHOT_DATES} are needed "
                  "for a time split")
    return Readiness(organization_id, rows, positives, snapshot_dates, reason)


def organization_readiness(session: Session) -> list[Readiness]:
    """Every organization present in the feature mart, with its labelled-history counts."""
    rows = session.execute(text(f"""
        select organization_id::text, count(*) filter (where label_complete),
               count(*) filter (where label_complete and converted),
               count(distinct snapshot_date) filter (where label_complete)
        from {FEATURE_TABLE} group by 1 order by 1""")).all()
    return [readiness(int(n), int(pos), int(dates), organization_id=org) for org, n, pos, dates in rows]


def load_training_frame(session: Session, organization_id: str) -> pd.DataFrame:
    frame = pd.read_sql_query(
        text(f"select * from {FEATURE_TABLE} where organization_id = :org and label_complete"
             " order by snapshot_date, prospect_id"),
        session.connection(), params={"org": organization_id})
    return mart_to_features(frame)


def mart_to_features(frame: pd.DataFrame) -> pd.DataFrame:
    """The mart row as the library's feature frame: ids as text, 0/1 label and flags, no bookkeeping."""
    out = frame.drop(columns=[c for c in MART_ONLY_COLUMNS if c in frame.columns])
    for column in ("prospect_id", "organization_id", "team_id", "owner_id"):
        if column in out.columns:
            out[column] = out[column].astype("string").astype(object)
    if "converted" in out.columns:
        out["converted"] = out["converted"].astype(bool).astype(int)
    if "intent_spike" in out.columns:
        out["intent_spike"] = out["intent_spike"].astype("float64")
    return out


def training_path(home: Path, organization_id: str) -> Path:
    return registry_root(home, organization_id) / TRAINING_FILE


@dataclass
class TrainingOutcome:
    organization_id: str
    status: str  # trained | skipped | refused (every candidate below chance or inverted by calibration)
    reason: str
    version: str | None = None
    promoted: bool = False
    family: str | None = None
    roc_auc: float | None = None
    pr_auc: float | None = None
    champion_version: str | None = None
    champion_roc_auc: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_organization(session: Session, *, organization_id: str, frame: pd.DataFrame, home: Path,
                       seed: int = 0, embargo_days: int | None = None) -> TrainingOutcome:
    """Train, register (champion only if better on the same holdout, and above the ROC-AUC floor), and
    record the holdout comparison and the training-window score distribution on the `ml_models` row.

    When every candidate is refused (validation ROC-AUC below 0.5, or calibration that changed its
    ranking) nothing is registered and the outcome says why, per candidate."""
    try:
        result: TrainingResult = train(frame, spec=LEAD_FEATURES, seed=seed, embargo_days=embargo_days)
    except NoUsableCandidateError as exc:
        return TrainingOutcome(organization_id, "refused", f"not registered: {exc}",
                               details={"refused": exc.reasons})
    except ValueError as exc:  # too short a history for the split, one class in a window, …
        return TrainingOutcome(organization_id, "skipped", f"cannot train: {exc}")
    root = registry_root(home, organization_id)
    store = PostgresRegistryStore(session, organization_id, root=root)
    registry = ModelRegistry(root, store=store)
    previous = registry.champion()
    try:
        champion_metrics = registry.evaluate(previous, holdout=result.validation) if previous else None
    except (ValueError, KeyError):  # a champion trained on other features cannot score this holdout
        champion_metrics = None
    decision = registry.register(result.best, holdout=result.validation)
    metrics = result.best.card.metrics
    roc_auc = metrics.get("roc_auc")
    reason = decision.reason
    if decision.promoted and (roc_auc is None or roc_auc < ROC_AUC_FLOOR):
        # Registered for the record, but a model this weak must not score anyone.
        if previous:
            store.set_champion(previous, reason=f"kept: {decision.version} is below the ROC-AUC floor")
        else:
            store.clear_champion()
        reason = f"validation ROC-AUC {roc_auc} below the floor {ROC_AUC_FLOOR}; not promoted"
        decision_promoted = False
    else:
        decision_promoted = decision.promoted
    model = result.best
    train_scores = to_score(model.predict_proba(frame))
    evaluation = {
        "decision": {**decision.to_dict(), "promoted": decision_promoted, "reason": reason},
        "candidates": {family: {k: candidate.card.metrics.get(k) for k in
                                ("roc_auc", "roc_auc_uncalibrated", "calibration_slope", "pr_auc", "refused")}
                       for family, candidate in result.candidates.items()},
        "holdout": {"rows": len(result.validation),
                    "challenger": {"roc_auc": roc_auc, "pr_auc": metrics.get("pr_auc")},
                    "champion": ({"version": previous, "roc_auc": champion_metrics.get("roc_auc"),
                                  "pr_auc": champion_metrics.get("pr_auc")} if champion_metrics else None)},
        "floor": ROC_AUC_FLOOR, "tolerance": ROC_AUC_TOLERANCE,
    }
    session.execute(text(
        "update app.ml_models set evaluation = cast(:evaluation as jsonb),"
        " score_distribution = cast(:distribution as jsonb)"
        " where organization_id = :org and name = 'lead_scoring' and version = :version"),
        {"evaluation": json.dumps(evaluation, default=_json_default),
         "distribution": json.dumps(score_histogram(train_scores)), "org": organization_id,
         "version": decision.version})
    return TrainingOutcome(
        organization_id, "trained", reason, version=decision.version, promoted=decision_promoted,
        family=model.family, roc_auc=roc_auc, pr_auc=metrics.get("pr_auc"), champion_version=previous,
        champion_roc_auc=champion_metrics.get("roc_auc") if champion_metrics else None,
        details={"rows": model.card.rows, "data_window": model.card.data_window})


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def quality_problems(evaluation: dict[str, Any], *, floor: float = ROC_AUC_FLOOR,
                     tolerance: float = ROC_AUC_TOLERANCE) -> list[str]:
    """Why a newly trained model fails the quality bar (empty = passes): the asset check's rule."""
    problems = []
    holdout = evaluation.get("holdout") or {}
    challenger = (holdout.get("challenger") or {}).get("roc_auc")
    if challenger is None or challenger < floor:
        problems.append(f"validation ROC-AUC {challenger} is below the floor {floor}")
    champion = holdout.get("champion") or {}
    if challenger is not None and champion.get("roc_auc") is not None \
            and challenger < champion["roc_auc"] - tolerance:
        problems.append(f"validation ROC-AUC {challenger:.4f} is worse than champion {champion.get('version')} "
                        f"({champion['roc_auc']:.4f}) by more than {tolerance}")
    return problems

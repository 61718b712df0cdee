"""Calibration must never change how a candidate ranks leads (issue 10, item 1).

On a time-ordered telemarketing history (drifting positive rate, drifting macro columns, a 999 sentinel,
ten categoricals) the evaluator's calibration used to invert gradient boosting; the guard that refuses an
inverted or below-chance candidate in the evaluator, the CLI, the registry and nightly training.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from sklearn.calibration import CalibratedClassifierCV
from sqlalchemy import text
from typer.testing import CliRunner

from models.lead_scoring import byoh
from models.lead_scoring.byoh import EvaluationReport, evaluate_csv, render_report, run_evaluate
from models.lead_scoring.features import LEAD_FEATURES, prepare_frame
from models.lead_scoring.registry import ModelRegistry, RefusedModelError
from models.lead_scoring.synthetic import make_feature_frame
from models.lead_scoring.train import (
    CALIBRATION_AUC_TOLERANCE,
    LeadScoringModel,
    NoUsableCandidateError,
    TrainingResult,
    build_pipeline,
    calibration_slope,
    time_split,
    train,
)
from pipelines.ml.training import train_organization
from revorc import ml_cli
from serving.core.config import get_settings
from tests.ml.bank_history import make_bank_history

CATEGORICALS = {"job", "marital", "education", "default", "housing", "loan", "contact", "month", "day_of_week",
                "poutcome"}


@pytest.fixture(scope="module")
def bank_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bank") / "bank-like.csv"
    make_bank_history(8_000, seed=0).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def bank_report(bank_csv: Path) -> EvaluationReport:
    return evaluate_csv(bank_csv, target="y", exclude=["duration"], cv_folds=3, seed=0)


def _unshuffled_calibration(family, spec, seed) -> CalibratedClassifierCV:
    """The evaluator's calibration before the fix: inner folds in file (= time) order."""
    return CalibratedClassifierCV(build_pipeline(family=family, spec=spec, seed=seed), method="sigmoid", cv=3,
                                  ensemble=False)


def test_generated_history_has_the_held_back_files_shape() -> None:
    frame = make_bank_history(8_000, seed=0)
    y = frame["y"].eq("yes")
    assert 0.09 < y.mean() < 0.13
    assert y.iloc[:2000].mean() < 0.07 and y.iloc[-800:].mean() > 0.35  # drifting positive rate
    assert frame["euribor3m"].iloc[:2000].mean() - frame["euribor3m"].iloc[-2000:].mean() > 2  # drifting macro
    assert frame["pdays"].eq(999).mean() > 0.9 and frame["pdays"].ne(999).any()
    assert set(frame.select_dtypes(["object", "string"]).columns) >= CATEGORICALS
    pd.testing.assert_frame_equal(frame, make_bank_history(8_000, seed=0))  # deterministic


def test_calibration_keeps_each_candidates_ranking_on_a_time_ordered_history(bank_report) -> None:
    assert set(bank_report.features["categorical"]) == CATEGORICALS and "duration" in bank_report.excluded
    for family, metrics in bank_report.candidates.items():
        assert metrics["refused"] is None, family
        assert metrics["roc_auc"] > 0.78, family
        assert abs(metrics["roc_auc"] - metrics["roc_auc_uncalibrated"]) <= CALIBRATION_AUC_TOLERANCE
        for fold in metrics["folds"]["per_fold"]:
            assert fold["calibration_slope"] > 0, family
            assert abs(fold["roc_auc"] - fold["roc_auc_uncalibrated"]) <= CALIBRATION_AUC_TOLERANCE, family
    assert calibration_slope(bank_report.model.estimator) > 0
    assert bank_report.model.card.metrics["roc_auc"] >= 0.8


def test_an_inverted_candidate_is_refused_and_the_usable_one_saved(bank_csv: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(byoh, "_calibrated", _unshuffled_calibration)
    report = run_evaluate(bank_csv, target="y", exclude=["duration"], registry_dir=tmp_path, cv_folds=3)
    hgb = report.candidates["hist_gradient_boosting"]
    # the evidence of issue 10: a good uncalibrated model, a negative Platt slope, an inverted ranking
    assert hgb["roc_auc_uncalibrated"] > 0.75 and hgb["roc_auc"] < 0.5
    assert any(fold["calibration_slope"] <= 0 for fold in hgb["folds"]["per_fold"])
    assert "calibration inverted the model" in hgb["refused"] and "below chance" in hgb["refused"]
    assert report.best == "logistic_regression" and report.version == "v1"
    assert ModelRegistry(tmp_path).load().family == "logistic_regression"
    console = Console(record=True, width=200)
    console.print(render_report(report))
    out = console.export_text()
    assert "hist_gradient_boosting (refused)" in out and "Refused hist_gradient_boosting: " in out


def test_cli_saves_nothing_and_exits_1_when_no_candidate_is_usable(bank_csv: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import typer

    monkeypatch.setattr(byoh, "_calibrated", _unshuffled_calibration)
    monkeypatch.setenv("REVORC_HOME", str(tmp_path))
    monkeypatch.setattr(ml_cli, "console", Console(width=200))
    get_settings.cache_clear()
    app = typer.Typer()
    app.callback()(lambda: None)
    ml_cli.register(app)
    try:
        result = CliRunner().invoke(app, ["leads", "evaluate", "--csv", str(bank_csv), "--target", "y",
                                          "--exclude", "duration", "--folds", "3",
                                          "--families", "hist_gradient_boosting"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert "calibration inverted the model" in result.output and "Nothing saved" in result.output
    assert not (ml_cli.byoh_registry_dir(tmp_path, bank_csv) / "index.json").exists()
    bad = CliRunner().invoke(app, ["leads", "evaluate", "--csv", str(bank_csv), "--target", "y",
                                   "--families", "random_forest"])
    assert bad.exit_code == 1 and "unknown model families" in bad.output


def test_registry_refuses_a_refused_or_below_chance_model(tmp_path: Path, trained: TrainingResult) -> None:
    registry = ModelRegistry(tmp_path)
    for metrics in ({"refused": "calibration inverted the model"}, {"roc_auc": 0.31}):
        card = copy.deepcopy(trained.best.card)
        card.metrics = {**card.metrics, **metrics}
        with pytest.raises(RefusedModelError, match="is not registered"):
            registry.register(LeadScoringModel(estimator=trained.best.estimator, card=card))
    assert registry.versions() == [] and not any(tmp_path.iterdir())
    # a model that ranks a holdout backwards is never promoted, not even as the first model
    flipped = trained.validation.assign(converted=1 - trained.validation["converted"])
    # a copy: register() writes the version into the card, and `trained` is shared by the session
    model = LeadScoringModel(estimator=trained.best.estimator, card=copy.deepcopy(trained.best.card))
    decision = registry.register(model, holdout=flipped)
    assert not decision.promoted and "below chance" in decision.reason and registry.champion() is None


def _reversed_calibration_window(seed: int = 3) -> pd.DataFrame:
    """The label flips in the snapshots nightly training calibrates on: each model ranks that window
    backwards, so a sigmoid fitted there would invert it for production."""
    frame = make_feature_frame(n_prospects=2000, n_snapshots=8, seed=seed)
    prepared = prepare_frame(frame, spec=LEAD_FEATURES)
    embargo = LEAD_FEATURES.label_window_days
    train_window, _ = time_split(prepared, validation_fraction=0.2, embargo_days=embargo)
    _, calibration = time_split(train_window, validation_fraction=0.25, embargo_days=embargo)
    flip = pd.to_datetime(frame["snapshot_date"]).isin(pd.to_datetime(calibration["snapshot_date"].unique()))
    return frame.assign(converted=np.where(flip, 1 - frame["converted"], frame["converted"]))


def test_nightly_training_refuses_candidates_inverted_by_calibration() -> None:
    with pytest.raises(NoUsableCandidateError) as refused:
        train(_reversed_calibration_window(), seed=0)
    assert set(refused.value.reasons) == {"logistic_regression", "hist_gradient_boosting"}
    assert all("calibration inverted the model" in r for r in refused.value.reasons.values())


def test_nightly_training_registers_nothing_and_records_why(owner_session, tenant, tmp_path: Path) -> None:
    outcome = train_organization(owner_session, organization_id=str(tenant.organization_id),
                                 frame=_reversed_calibration_window(), home=tmp_path)
    assert outcome.status == "refused" and not outcome.promoted and outcome.version is None
    assert "calibration inverted the model" in outcome.reason
    assert set(outcome.details["refused"]) == {"logistic_regression", "hist_gradient_boosting"}
    rows = owner_session.execute(text("select count(*) from app.ml_models where organization_id = :org"),
                                 {"org": str(tenant.organization_id)}).scalar_one()
    assert rows == 0

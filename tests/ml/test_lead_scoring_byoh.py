"""Bring-your-own-history evaluator on the in-repo X Education file and on small hand-made CSVs."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from models.lead_scoring.byoh import (
    DEFAULT_LEAKAGE_COLUMNS,
    EvaluationReport,
    evaluate_csv,
    leakage_columns,
    read_history,
    render_report,
    run_evaluate,
)
from models.lead_scoring.explain import explain
from models.lead_scoring.features import matching_columns
from models.lead_scoring.registry import ModelRegistry
from models.lead_scoring.train import LeadScoringModel, TrainingResult

X_EDUCATION = Path(__file__).resolve().parents[2] / "datasets" / "x_education_leads" / "Leads.csv"
LEAKING = ["Tags", "Lead Quality", "Lead Profile", "Asymmetrique Activity Index",
           "Asymmetrique Profile Index", "Asymmetrique Activity Score", "Asymmetrique Profile Score",
           "Last Activity", "Last Notable Activity"]


@pytest.fixture(scope="module")
def report() -> EvaluationReport:
    return evaluate_csv(X_EDUCATION, target="Converted", max_rows=3000, cv_folds=3, seed=0)


def test_x_education_without_leaking_columns_scores_well(report: EvaluationReport) -> None:
    assert report.rows == 3000 and 0.3 < report.positive_rate < 0.45
    assert set(report.candidates) == {"logistic_regression", "hist_gradient_boosting"}
    for family, metrics in report.candidates.items():
        assert metrics["roc_auc"] > 0.8, family
        assert 0.0 < metrics["brier"] < 0.25
        assert metrics["top_decile_lift"] > 2.0
        assert len(metrics["deciles"]) == 10 and len(metrics["folds"]["per_fold"]) == 3
    assert report.best == max(report.candidates, key=lambda f: report.candidates[f]["pr_auc"])


def test_leaking_and_id_columns_are_excluded_by_default(report: EvaluationReport) -> None:
    used = set(report.features["numeric"]) | set(report.features["categorical"])
    for column in LEAKING:
        assert column in report.excluded and column not in used
    assert report.excluded["Prospect ID"] == report.excluded["Lead Number"] == "unique per row (ID-like)"
    assert "Converted" not in used
    assert {"Total Time Spent on Website", "TotalVisits"} <= set(report.features["numeric"])
    assert {"Lead Origin", "What is your current occupation"} <= set(report.features["categorical"])
    assert sorted(matching_columns(LEAKING, DEFAULT_LEAKAGE_COLUMNS)) == sorted(LEAKING)


def test_select_placeholders_are_missing() -> None:
    frame = read_history(X_EDUCATION, max_rows=500, seed=1)
    for column in ("Specialization", "How did you hear about X Education", "Lead Profile", "City"):
        assert not frame[column].astype("str").str.lower().eq("select").any()
    raw = pd.read_csv(X_EDUCATION).loc[frame.index]
    assert frame["City"].isna().sum() == (raw["City"].isna() | raw["City"].eq("Select")).sum()


def test_best_model_scores_and_explains(report: EvaluationReport) -> None:
    frame = read_history(X_EDUCATION, max_rows=200, seed=3)
    probability = report.model.predict_proba(frame)
    assert probability.shape == (200,) and ((probability > 0) & (probability < 1)).all()
    attribution = explain(model=report.model, frame=frame, n_permutations=2)
    baseline, ints = attribution.rounded()
    assert (baseline + ints.sum(axis=1).to_numpy() == attribution.scores).all()
    text = " ".join(f["text"] for f in attribution.top_factors(top_k=3)[0])
    assert any(name in text for name in report.features["numeric"] + report.features["categorical"])


def test_leakage_heuristic_beyond_the_default_list(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=400)
    frame = pd.DataFrame({
        "won": y, "visits": rng.poisson(3 + 2 * y), "Deal Stage": rng.choice(["a", "b"], size=400),
        "sales_note": np.where(y == 1, "call back", "not interested"),
        "region": rng.choice(["north", "south"], size=400), "seconds_on_site": rng.permutation(400) * 3,
        "employees": np.where(np.arange(400) % 50 == 0, "lots", rng.integers(1, 500, size=400).astype(str)),
    })
    found = leakage_columns(frame.assign(leadStatus="open"), target="won", known=())
    assert found["Deal Stage"] == found["leadStatus"] == "name suggests post-outcome information"
    assert found["sales_note"].startswith("predicts the target almost alone")
    assert "visits" not in found and "region" not in found

    path = tmp_path / "history.csv"
    frame.assign(won=np.where(y == 1, "Yes", "No"), lead_id=np.arange(400)).to_csv(path, index=False)
    linear = ["logistic_regression"]
    report = evaluate_csv(path, target="won", cv_folds=3, keep=["Deal Stage"], families=linear)
    assert "Deal Stage" in report.features["categorical"] and "sales_note" in report.excluded
    assert report.excluded["lead_id"] == "unique per row (ID-like)"
    assert "seconds_on_site" in report.features["numeric"], "a unique integer measure is not an ID"
    assert "employees" in report.features["numeric"], "98 % numbers: numeric, the rest missing"
    with_leaks = evaluate_csv(path, target="won", cv_folds=3, detect_leakage=False, families=linear)
    assert "sales_note" in with_leaks.features["categorical"]
    assert with_leaks.candidates["logistic_regression"]["roc_auc"] > 0.99


def test_run_evaluate_saves_the_best_model_and_renders(tmp_path: Path, trained: TrainingResult) -> None:
    sample = tmp_path / "leads.csv"
    pd.read_csv(X_EDUCATION).sample(n=600, random_state=0).to_csv(sample, index=False)
    registry_dir = tmp_path / "registry"
    saved = run_evaluate(sample, target="Converted", exclude=["Country"], id_column="Prospect ID",
                         registry_dir=registry_dir, cv_folds=3)
    assert saved.version == "v1" and saved.promotion["promoted"]
    assert saved.excluded["Country"] == "excluded by request" and saved.excluded["Prospect ID"] == "id column"
    loaded = ModelRegistry(registry_dir).load()
    assert loaded.family == saved.best and loaded.card.notes["source"] == "leads.csv"
    console = Console(record=True, width=160)
    console.print(render_report(saved))
    text = console.export_text()
    for expected in ("ROC-AUC", "PR-AUC", "Brier", "logistic_regression", "hist_gradient_boosting", "Tags",
                     "known leaking column", "Saved", "v1 (champion)"):
        assert expected in text
    # a champion that cannot score the platform's features gives way to a model that can
    lead_model = LeadScoringModel(estimator=trained.best.estimator, card=copy.deepcopy(trained.best.card))
    decision = ModelRegistry(registry_dir).register(lead_model, holdout=trained.validation)
    assert decision.promoted and "cannot score this holdout" in decision.reason

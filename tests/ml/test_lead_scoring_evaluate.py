"""Metrics, lift by decile, calibration table, PSI and the model card."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from models.lead_scoring.evaluate import (
    ModelCard,
    calibration_table,
    classification_metrics,
    lift_by_decile,
    population_stability_index,
)
from models.lead_scoring.train import TrainingResult


@pytest.fixture
def scored() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    probability = rng.uniform(size=2000)
    y = (rng.uniform(size=2000) < probability).astype(int)
    return y, probability


def test_metrics_match_sklearn(scored: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = scored
    metrics = classification_metrics(y_true=y, probability=p)
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert metrics["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert metrics["brier"] == pytest.approx(brier_score_loss(y, p))
    assert metrics["rows"] == 2000 and metrics["positive_rate"] == pytest.approx(y.mean())
    assert sum(d["rows"] for d in metrics["deciles"]) == 2000
    assert sum(b["rows"] for b in metrics["calibration"]) == 2000
    json.dumps(metrics, allow_nan=False)


def test_lift_by_decile_orders_by_score() -> None:
    y = np.array([1] * 10 + [0] * 90)
    perfect = lift_by_decile(y_true=y, probability=y + np.linspace(0, 0.5, 100))
    assert list(perfect["decile"]) == list(range(1, 11))
    assert perfect["rows"].eq(10).all()
    assert perfect.loc[0, "conversion_rate"] == 1.0 and perfect.loc[0, "lift"] == pytest.approx(10.0)
    assert perfect.loc[1:, "conversions"].eq(0).all()
    assert perfect["min_probability"].is_monotonic_decreasing


def test_calibration_table_reports_observed_rates(scored: tuple[np.ndarray, np.ndarray]) -> None:
    y, p = scored
    table = calibration_table(y_true=y, probability=p, n_bins=5)
    assert list(table["bin"]) == [0, 1, 2, 3, 4]
    # labels were drawn with these probabilities, so each bin's observed rate tracks its mean prediction
    assert np.abs(table["observed_rate"] - table["mean_predicted"]).max() < 0.07


def test_psi_is_zero_for_identical_and_large_for_shifted_distributions() -> None:
    rng = np.random.default_rng(1)
    scores = rng.normal(40, 12, size=5000)
    assert population_stability_index(expected=scores, actual=scores) == pytest.approx(0.0, abs=1e-9)
    same_population = rng.normal(40, 12, size=5000)
    assert population_stability_index(expected=scores, actual=same_population) < 0.02
    shifted = rng.normal(55, 12, size=5000)
    assert population_stability_index(expected=scores, actual=shifted) > 0.5
    out_of_range = np.full(100, 500.0)  # beyond every expected bin edge: lands in the last bin
    assert population_stability_index(expected=scores, actual=out_of_range) > 1.0


def test_model_card_survives_json(trained: TrainingResult) -> None:
    card = trained.best.card
    text = json.dumps(card.to_dict(), allow_nan=False)
    again = ModelCard.from_dict(json.loads(text))
    assert again.to_dict() == card.to_dict()
    summary = again.summary()
    assert summary["pr_auc"] == card.metrics["pr_auc"] and summary["family"] == card.family
    assert set(card.features["features"][0]) >= {"name", "kind", "group", "label"}

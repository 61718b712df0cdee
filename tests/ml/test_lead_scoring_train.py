"""Time split, candidate training, calibration and the model card."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from models.lead_scoring.features import prepare_frame
from models.lead_scoring.synthetic import make_feature_frame
from models.lead_scoring.train import FAMILIES, TrainingResult, time_split, train


def test_time_split_has_no_overlap_and_respects_the_embargo() -> None:
    frame = make_feature_frame(n_prospects=20, n_snapshots=10, seed=3, spacing_days=7)
    train_part, valid = time_split(frame, validation_fraction=0.3)
    assert train_part["snapshot_date"].max() < valid["snapshot_date"].min()
    assert len(train_part) + len(valid) == len(frame)
    assert valid["snapshot_date"].nunique() == 3

    embargoed, valid2 = time_split(frame, validation_fraction=0.3, embargo_days=14)
    assert valid2.equals(valid)
    gap = valid2["snapshot_date"].min() - embargoed["snapshot_date"].max()
    assert gap >= pd.Timedelta(days=14)
    assert len(embargoed) == len(frame) - len(valid) - 20  # exactly one weekly snapshot falls in the gap


def test_time_split_needs_two_dates() -> None:
    one_date = make_feature_frame(n_prospects=10, n_snapshots=1, seed=0)
    with pytest.raises(ValueError, match="two distinct"):
        time_split(one_date)


def test_planted_signal_is_recovered(trained: TrainingResult) -> None:
    for family in FAMILIES:
        assert trained.candidates[family].card.metrics["roc_auc"] > 0.7
    card = trained.best.card
    assert card.family == max(card.candidates, key=lambda f: card.candidates[f]["pr_auc"])
    assert set(card.candidates) == set(FAMILIES)
    windows = card.data_window
    assert windows["train"]["max"] < windows["calibration"]["min"] <= windows["calibration"]["max"]
    assert windows["calibration"]["max"] < windows["validation"]["min"]
    assert card.rows["validation"] == len(trained.validation) > 0
    assert card.library_versions["scikit-learn"] and card.training_seconds > 0
    assert card.evaluation == "time_split" and card.notes["embargo_days"] == 30
    assert 0.0 < card.positive_rate["validation"] < 0.5
    # the validation metric is what the model actually does on the returned holdout
    probability = trained.best.predict_proba(trained.validation)
    auc = roc_auc_score(trained.validation["converted"], probability)
    assert auc == pytest.approx(card.metrics["roc_auc"])
    # calibrated: the mean prediction is close to the observed rate
    assert abs(probability.mean() - trained.validation["converted"].mean()) < 0.03


def test_shuffled_labels_are_not_learned() -> None:
    frame = make_feature_frame(n_prospects=6000, n_snapshots=5, seed=11)
    rng = np.random.default_rng(0)
    shuffled = frame.assign(converted=rng.permutation(frame["converted"].to_numpy()))
    result = train(shuffled, seed=0)
    for family, model in result.candidates.items():
        assert abs(model.card.metrics["roc_auc"] - 0.5) < 0.06, family


def test_training_is_deterministic_for_a_seed() -> None:
    frame = make_feature_frame(n_prospects=1500, n_snapshots=4, seed=5)
    first, second = train(frame, seed=3), train(frame, seed=3)
    holdout = prepare_frame(first.validation)
    for family in FAMILIES:
        np.testing.assert_array_equal(first.candidates[family].predict_proba(holdout),
                                      second.candidates[family].predict_proba(holdout))
        assert first.candidates[family].card.baseline_row == second.candidates[family].card.baseline_row


def test_training_refuses_a_window_without_both_classes() -> None:
    frame = make_feature_frame(n_prospects=200, n_snapshots=4, seed=5).assign(converted=0)
    with pytest.raises(ValueError, match="only one class"):
        train(frame)


def test_a_feature_missing_throughout_the_fit_window_is_dropped_and_recorded(signal_frame) -> None:
    # e.g. technographics that only began to be enriched recently: no values in the early snapshots
    frame = signal_frame.copy()
    latest = frame["snapshot_date"] == frame["snapshot_date"].max()
    frame["technology_count"] = np.where(latest, 5.0, np.nan)
    result = train(frame, seed=0)
    for model in result.candidates.values():
        assert "technology_count" not in model.spec.columns
        assert model.card.notes["dropped_features"] == {"technology_count": "no values in the training window"}
        assert model.card.metrics["roc_auc"] > 0.7
    # the model still scores frames that carry the column
    assert result.best.predict_proba(frame.head(50)).shape == (50,)

"""Registry: skops roundtrip, champion/challenger on the same holdout, forced promotion, rollback, trust."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from models.lead_scoring.predict import score_frame
from models.lead_scoring.registry import ModelRegistry, UntrustedArtifactError
from models.lead_scoring.synthetic import make_feature_frame
from models.lead_scoring.train import LeadScoringModel, TrainingResult, train


def _copy(model: LeadScoringModel) -> LeadScoringModel:
    # registering writes the version into the card; keep the session fixture's cards untouched
    return LeadScoringModel(estimator=model.estimator, card=copy.deepcopy(model.card))


@pytest.fixture(scope="module")
def noise_model() -> LeadScoringModel:
    # A weak model, not a pure-noise one: a model below chance is refused before it reaches the registry.
    weak = make_feature_frame(n_prospects=4000, n_snapshots=6, seed=8, signal_strength=0.15)
    return train(weak, seed=0, families=["logistic_regression"]).best


def test_save_and_load_roundtrip(tmp_path: Path, trained: TrainingResult) -> None:
    registry = ModelRegistry(tmp_path)
    for family, model in trained.candidates.items():
        decision = registry.register(_copy(model))
        loaded = registry.load(decision.version)
        assert loaded.family == family and loaded.version == decision.version
        scored = score_frame(model=loaded, frame=trained.validation.iloc[:5])
        assert (scored["model_version"] == decision.version).all()
        np.testing.assert_array_equal(loaded.predict_proba(trained.validation),
                                      model.predict_proba(trained.validation))
        assert (tmp_path / decision.version / "model.skops").exists()
        card = json.loads((tmp_path / decision.version / "model_card.json").read_text())
        assert card["version"] == decision.version
        assert card["metrics"]["pr_auc"] == model.card.metrics["pr_auc"]
    assert [v["version"] for v in registry.versions()] == ["v1", "v2"]
    assert registry.champion() == "v1"  # no holdout: the first model only
    assert registry.load().version == "v1"
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["champion"] == "v1" and set(index["versions"]) == {"v1", "v2"}


def test_challenger_must_beat_the_champion_on_the_same_holdout(
        tmp_path: Path, trained: TrainingResult, noise_model: LeadScoringModel) -> None:
    holdout = trained.validation
    registry = ModelRegistry(tmp_path / "a")
    assert registry.register(_copy(trained.best), holdout=holdout).promoted
    worse = registry.register(_copy(noise_model), holdout=holdout)
    assert not worse.promoted and registry.champion() == "v1"
    assert worse.champion_metric == pytest.approx(registry.evaluate("v1", holdout=holdout)["pr_auc"])
    assert worse.challenger_metric == pytest.approx(registry.evaluate("v2", holdout=holdout)["pr_auc"])
    same = registry.register(_copy(trained.best), holdout=holdout)
    assert not same.promoted, "a tie keeps the incumbent"

    registry = ModelRegistry(tmp_path / "b")
    registry.register(_copy(noise_model), holdout=holdout)
    better = registry.register(_copy(trained.best), holdout=holdout)
    assert better.promoted and registry.champion() == better.version
    assert better.challenger_metric > better.champion_metric + better.min_gain


def test_forced_promotion_and_rollback(tmp_path: Path, trained: TrainingResult,
                                       noise_model: LeadScoringModel) -> None:
    registry = ModelRegistry(tmp_path)
    for model in (trained.best, noise_model, trained.candidates["hist_gradient_boosting"]):
        registry.register(_copy(model))
    assert registry.champion() == "v1"
    registry.promote("v3")
    assert registry.champion() == "v3" and registry.load().family == "hist_gradient_boosting"
    registry.rollback("v2")
    assert registry.champion() == "v2"
    registry.rollback("v1")
    assert registry.champion() == "v1"
    with pytest.raises(ValueError, match="older than the champion"):
        registry.rollback("v3")
    with pytest.raises(LookupError):
        registry.promote("v9")
    history = json.loads((tmp_path / "index.json").read_text())["history"]
    assert [h["version"] for h in history] == ["v1", "v3", "v2", "v1"]
    assert history[2]["reason"] == "rollback from v3"


def _double(values: np.ndarray) -> np.ndarray:
    return values * 2


def test_refuses_an_artifact_with_an_untrusted_type(tmp_path: Path, trained: TrainingResult) -> None:
    spec = trained.best.spec
    X = trained.validation[spec.numeric].fillna(0)
    sneaky = Pipeline([("f", FunctionTransformer(_double)), ("m", LogisticRegression(max_iter=1000))])
    sneaky.fit(X, trained.validation["converted"])
    registry = ModelRegistry(tmp_path)
    card = copy.deepcopy(trained.best.card)
    version = registry.register(LeadScoringModel(estimator=sneaky, card=card)).version
    with pytest.raises(UntrustedArtifactError, match="_double"):
        registry.load(version)


def test_refuses_a_modified_artifact(tmp_path: Path, trained: TrainingResult) -> None:
    registry = ModelRegistry(tmp_path)
    version = registry.register(_copy(trained.best)).version
    path = tmp_path / version / "model.skops"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(UntrustedArtifactError, match="checksum"):
        registry.load(version)
    with pytest.raises(LookupError, match="no champion"):
        ModelRegistry(tmp_path / "empty").load()

"""The compiled model gives the champion's own `predict_proba` bit for bit (many rows, missing values, unseen
categories, one row alone), the same explanation factors, and falls back to scikit-learn on any mismatch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.lead_scoring import compiled as compiled_module
from models.lead_scoring import explain as explain_module
from models.lead_scoring.compiled import compile_model, compiled, predict_probability, probe_frame
from models.lead_scoring.explain import explain
from models.lead_scoring.features import prepare_frame
from models.lead_scoring.predict import score_frame
from models.lead_scoring.train import FAMILIES, TrainingResult


def _rows_with_holes(trained: TrainingResult, family: str, n: int = 600) -> pd.DataFrame:
    """Validation rows with values knocked out and categories no model has seen."""
    model = trained.candidates[family]
    frame = prepare_frame(trained.validation.iloc[:n].reset_index(drop=True), spec=model.spec)[model.spec.columns]
    rng = np.random.default_rng(3)
    frame = frame.mask(rng.random(frame.shape) < 0.15)
    for column in model.spec.categorical:
        unseen = rng.random(len(frame)) < 0.05
        frame.loc[unseen, column] = f"never seen {column}"
    return frame


@pytest.mark.parametrize("family", FAMILIES)
def test_compiled_probabilities_are_predict_proba_bit_for_bit(trained: TrainingResult, family: str) -> None:
    model = trained.candidates[family]
    fast = compiled(model)
    assert fast is not None, f"{family} should compile"
    X = _rows_with_holes(trained, family)
    assert X.isna().any().all() and X[model.spec.categorical[0]].eq(f"never seen {model.spec.categorical[0]}").any()
    encoded = fast.encode(X)
    assert np.array_equal(fast.probability(encoded), model.estimator.predict_proba(X)[:, 1])
    for i in range(0, len(X), 37):  # one row alone, as a real-time request is scored
        alone = model.estimator.predict_proba(X.iloc[[i]])[:, 1]
        assert np.array_equal(fast.probability(encoded[i:i + 1], row_by_row=True), alone)
    # the probe rows (every category, missing, unseen, extremes) too
    probes = probe_frame(fast, model.spec, baseline_row=model.card.baseline_row, seed=11)
    assert np.array_equal(predict_probability(model, probes), model.estimator.predict_proba(probes)[:, 1])


@pytest.mark.parametrize("family", FAMILIES)
def test_compiled_explanations_are_the_scikit_learn_ones(trained: TrainingResult, family: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    model = trained.candidates[family]
    frame = trained.validation.iloc[200:260].reset_index(drop=True)
    frame = frame.assign(industry=np.where(np.arange(len(frame)) % 7 == 0, "never seen industry",
                                           frame["industry"]),
                         days_since_last_engagement=frame["days_since_last_engagement"].mask(
                             np.arange(len(frame)) % 5 == 0))
    fast_scores = score_frame(model=model, frame=frame, top_k=5)
    fast_one = score_frame(model=model, frame=frame.iloc[[4]], top_k=5)
    fast_attribution = explain(model=model, frame=frame)
    monkeypatch.setattr(explain_module, "compiled", lambda model: None)
    monkeypatch.setattr(compiled_module, "compiled", lambda model: None)
    slow_scores = score_frame(model=model, frame=frame, top_k=5)
    slow_one = score_frame(model=model, frame=frame.iloc[[4]], top_k=5)
    slow_attribution = explain(model=model, frame=frame)
    assert np.array_equal(fast_attribution.contributions.to_numpy(), slow_attribution.contributions.to_numpy())
    pd.testing.assert_frame_equal(fast_scores, slow_scores)
    pd.testing.assert_frame_equal(fast_one, slow_one)
    assert fast_scores["top_factors"].map(len).min() > 0


@pytest.mark.parametrize("family", FAMILIES)
def test_a_compiled_model_that_disagrees_falls_back_to_scikit_learn(trained: TrainingResult, family: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    model = trained.candidates[family]
    build = compiled_module._build

    def slightly_off(estimator, spec):
        # about 10^-12 relative (thousands of ulps, still far below any visible score change): one ulp alone is
        # sometimes absorbed by the calibration's rounding, depending on the trained coefficients
        good = build(estimator, spec)
        return compiled_module.CompiledModel(**{**good.__dict__, "b": good.b + max(abs(good.b), 1.0) * 1e-12})

    monkeypatch.setattr(compiled_module, "_build", slightly_off)
    monkeypatch.setattr(compiled_module, "_compiled", type(compiled_module._compiled)())
    assert compile_model(model.estimator, spec=model.spec, baseline_row=model.card.baseline_row) is None
    X = _rows_with_holes(trained, family, n=50)
    assert np.array_equal(predict_probability(model, X), model.estimator.predict_proba(X)[:, 1])


def test_an_unsupported_estimator_is_not_compiled(trained: TrainingResult) -> None:
    model = trained.candidates["logistic_regression"]
    assert compile_model(model.base_pipeline(), spec=model.spec, baseline_row=model.card.baseline_row) is None


def test_infinite_numbers_are_left_to_scikit_learn(trained: TrainingResult) -> None:
    # scikit-learn refuses infinities in the logistic pipeline; the compiled path must not score them instead
    model = trained.candidates["logistic_regression"]
    X = _rows_with_holes(trained, "logistic_regression", n=3).assign(emails_sent=np.inf)
    with pytest.raises(ValueError, match="infinity"):
        model.estimator.predict_proba(X)
    with pytest.raises(ValueError, match="infinity"):
        predict_probability(model, X)


@pytest.mark.parametrize("rows", [1, 3])
def test_substitutions_walked_without_the_stack_are_the_stacks_probabilities(trained: TrainingResult, rows: int,
                                                                            monkeypatch: pytest.MonkeyPatch
                                                                            ) -> None:
    """Gradient boosting's explanation walks its substitutions as picks between a row's and the reference's
    decision at each split: the same probabilities, bit for bit, as the built stack walked in numpy or scored by
    scikit-learn's own per-tree predictors (rows with holes and unseen categories, random substitutions)."""
    model = trained.candidates["hist_gradient_boosting"]
    fast = compiled(model)
    encoded = fast.encode(_rows_with_holes(trained, "hist_gradient_boosting", n=120))
    probes = fast.encode(probe_frame(fast, model.spec, baseline_row=model.card.baseline_row, seed=5))
    reference = fast.encode(model.reference())
    rng = np.random.default_rng(rows)
    checked = 0
    for matrix in (encoded, probes):
        for start in range(0, 90, rows):
            part = matrix[start:start + rows]
            take = rng.random((30, matrix.shape[1])) < 0.5
            stack = np.where(np.repeat(take, len(part), axis=0), np.tile(part, (len(take), 1)), reference)
            walked = fast.substituted_probability(part, reference, take)
            assert np.array_equal(walked, fast.probability(stack))
            checked += 1
    with monkeypatch.context() as patched:  # the built stack through scikit-learn's per-tree predictors
        patched.setattr(compiled_module, "_WALK_CELLS", 0)
        part, take = encoded[:rows], rng.random((30, encoded.shape[1])) < 0.5
        stack = np.where(np.repeat(take, len(part), axis=0), np.tile(part, (len(take), 1)), reference)
        per_tree = fast.probability(stack)
    assert np.array_equal(fast.substituted_probability(part, reference, take), per_tree)
    assert checked >= 60


def test_few_rows_are_encoded_and_phrased_as_many_rows_are(trained: TrainingResult,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A real-time pass (a few rows) finds distinct values with a dict instead of pd.factorize: the same codes and
    phrases, missing and unseen values, repeats, and 0.0 / -0.0 included."""
    model = trained.candidates["hist_gradient_boosting"]
    fast = compiled(model)
    frame = _rows_with_holes(trained, "hist_gradient_boosting", n=48)
    frame.iloc[:4, frame.columns.get_loc(model.spec.numeric[0])] = [0.0, -0.0, np.nan, 0.0]
    frame.iloc[4, frame.columns.get_loc(model.spec.categorical[0])] = None
    columns = {name: frame[name].to_numpy() for name in model.spec.columns}
    few = [(fast.encode(frame.iloc[i:i + 8]), explain_module.phrase_columns(
        {k: v[i:i + 8] for k, v in columns.items()}, spec=model.spec)) for i in range(0, 48, 8)]
    monkeypatch.setattr(compiled_module, "_FEW_ROWS", 0)
    monkeypatch.setattr(explain_module, "_FEW_VALUES", 0)
    for i, (encoded, phrases) in zip(range(0, 48, 8), few, strict=True):
        assert np.array_equal(encoded, fast.encode(frame.iloc[i:i + 8]), equal_nan=True)
        expected = explain_module.phrase_columns({k: v[i:i + 8] for k, v in columns.items()}, spec=model.spec)
        assert {k: list(v) for k, v in phrases.items()} == {k: list(v) for k, v in expected.items()}

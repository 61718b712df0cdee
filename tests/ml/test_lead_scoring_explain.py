"""Explanations add up to the score for every row, for both model families, and read as plain words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.lead_scoring import compiled as compiled_module
from models.lead_scoring import explain as explain_module
from models.lead_scoring.explain import MINUS, ScoreAttribution, explain, phrase_frame, to_score
from models.lead_scoring.features import LEAD_FEATURES, prepare_frame
from models.lead_scoring.predict import score_frame
from models.lead_scoring.train import FAMILIES, TrainingResult


@pytest.mark.parametrize("family", FAMILIES)
def test_contributions_sum_to_the_score_for_every_row(trained: TrainingResult, family: str) -> None:
    model = trained.candidates[family]
    frame = trained.validation.iloc[:400]
    attribution = explain(model=model, frame=frame)
    probability = model.predict_proba(frame)
    assert list(attribution.contributions.columns) == list(LEAD_FEATURES.groups)
    np.testing.assert_allclose(attribution.value, 100 * probability, atol=1e-9)
    baseline, ints = attribution.rounded()
    np.testing.assert_array_equal(baseline + ints.sum(axis=1).to_numpy(), to_score(probability))
    assert (np.abs(ints.to_numpy() - attribution.contributions.to_numpy()) <= 1).all()
    assert baseline[0] == to_score(model.estimator.predict_proba(model.reference())[:, 1])[0]
    # intent carries the planted signal, so it moves scores more than department does
    size = attribution.contributions.abs().mean()
    assert size["intent"] > size["department"]


def test_gradient_boosting_attribution_is_deterministic(trained: TrainingResult) -> None:
    model = trained.candidates["hist_gradient_boosting"]
    frame = trained.validation.iloc[:50]
    pd.testing.assert_frame_equal(explain(model=model, frame=frame).contributions,
                                  explain(model=model, frame=frame).contributions)


def test_the_reference_prospect_has_no_factors(trained: TrainingResult) -> None:
    model = trained.candidates["logistic_regression"]
    attribution = explain(model=model, frame=model.reference())
    np.testing.assert_allclose(attribution.contributions.to_numpy(), 0.0, atol=1e-9)
    assert attribution.top_factors(top_k=5) == [[]]


def test_factors_are_plain_words_with_signed_points(trained: TrainingResult) -> None:
    model = trained.candidates["logistic_regression"]
    row = trained.validation.iloc[[0]].assign(
        emails_sent=4, emails_replied=0, intent_score=62, intent_tier="hot", web_sessions=0, intent_spike=1,
        days_since_last_engagement=np.nan)
    phrases = phrase_frame(prepare_frame(row), spec=LEAD_FEATURES).iloc[0]
    assert phrases["email_replies"] == "No reply to 4 emails"
    assert phrases["intent"] == "Intent tier hot (score 62)"
    assert phrases["days_since_last_engagement"] == "Never engaged"
    assert phrases["web_sessions"] == "No web sessions"
    assert phrases["intent_spike"] == "Intent spike detected"
    factors = explain(model=model, frame=row).top_factors(top_k=20)[0]
    texts = {f["feature"]: f["text"] for f in factors}
    assert texts["intent"].startswith("Intent tier hot (score 62): +")
    for f in factors:
        assert f["text"] == f"{f['factor']}: {'+' if f['impact'] > 0 else MINUS}{abs(f['impact'])}"


def test_one_reply_reads_in_the_singular() -> None:
    frame = pd.DataFrame({"emails_sent": [1, 3, 0, np.nan], "emails_replied": [1, 0, 0, 0]})
    spec_frame = frame.reindex(columns=LEAD_FEATURES.columns).assign(**frame)
    phrases = phrase_frame(spec_frame, spec=LEAD_FEATURES)["email_replies"].tolist()
    assert phrases == ["1 reply to 1 email", "No reply to 3 emails", "No emails sent yet",
                       "Email history unknown"]


def test_blending_keeps_the_sum() -> None:
    index = pd.RangeIndex(3)
    a = ScoreAttribution(baseline=np.full(3, 10.0), contributions=pd.DataFrame({"x": [5.4, -3.3, 80.0]}),
                         phrases=pd.DataFrame({"x": ["X"] * 3}, index=index))
    b = ScoreAttribution.from_scores([40.0, 0.0, 100.0], index=index)
    blended = a.blend(b, weight=0.25)
    np.testing.assert_allclose(blended.value, 0.25 * a.value + 0.75 * b.value)
    baseline, ints = blended.rounded()
    np.testing.assert_array_equal(baseline + ints.sum(axis=1).to_numpy(), blended.scores)


def _reference_contributions(model, frame: pd.DataFrame, *, n_permutations: int = 8, seed: int = 0) -> np.ndarray:
    """The method written out plainly, one model call per substituted group (logistic regression) or per
    step of each permutation (gradient boosting): what the stacked single call must reproduce."""
    spec = model.spec
    X = prepare_frame(frame, spec=spec)[spec.columns].reset_index(drop=True)
    reference = model.reference()
    groups = list(spec.groups.values())
    baseline = 100 * model.estimator.predict_proba(reference)[0, 1]
    score = 100 * model.estimator.predict_proba(X)[:, 1]

    def substituted(chosen) -> pd.DataFrame:  # the reference prospect taking the chosen groups from each row
        rows = reference.loc[reference.index.repeat(len(X))].reset_index(drop=True)
        for g in chosen:
            for name in groups[g]:
                rows[name] = X[name].to_numpy()
        return rows

    if model.family == "logistic_regression":
        pipeline = model.base_pipeline()
        z_ref = pipeline.decision_function(reference)[0]
        dz = np.column_stack([pipeline.decision_function(substituted([g])) - z_ref for g in range(len(groups))])
        return dz / dz.sum(axis=1, keepdims=True) * (score - baseline)[:, None]
    rng = np.random.default_rng(seed)
    half = [rng.permutation(len(groups)) for _ in range(n_permutations // 2)]
    contributions = np.zeros((len(X), len(groups)))
    for perm in half + [p[::-1] for p in half]:
        previous = np.full(len(X), baseline)
        for step in range(len(groups)):
            value = score if step == len(groups) - 1 else \
                100 * model.estimator.predict_proba(substituted(perm[:step + 1]))[:, 1]
            contributions[:, perm[step]] += value - previous
            previous = value
    return contributions / (2 * len(half))


@pytest.mark.parametrize("family", FAMILIES)
def test_stacked_explanation_equals_the_method_written_out_call_by_call(trained: TrainingResult,
                                                                         family: str) -> None:
    model = trained.candidates[family]
    frame = trained.validation.iloc[100:130]
    attribution = explain(model=model, frame=frame)
    np.testing.assert_allclose(attribution.contributions.to_numpy(), _reference_contributions(model, frame),
                               rtol=0, atol=1e-9)
    one = explain(model=model, frame=frame.iloc[[3]])  # a single row, as the real-time API explains it
    np.testing.assert_allclose(one.contributions.to_numpy(), _reference_contributions(model, frame.iloc[[3]]),
                               rtol=0, atol=1e-9)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("compiled", [True, False])
def test_scoring_and_explaining_one_row_passes_through_the_pipeline_twice(trained: TrainingResult, family: str,
                                                                          compiled: bool,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Every scikit-learn model call (predict_proba, decision_function, calibrated or not) runs the preprocessing
    # once, and that fixed per-call cost dominates one row: one pass scores it, one stacked pass explains it.
    # The compiled model (models/lead_scoring/compiled.py) never runs it.
    model = trained.candidates[family]
    if not compiled:
        monkeypatch.setattr(explain_module, "compiled", lambda model: None)
        monkeypatch.setattr(compiled_module, "compiled", lambda model: None)
    row = trained.validation.iloc[[7]]
    score_frame(model=model, frame=row, top_k=5)  # the reference prospect is computed once per model
    prep = model.base_pipeline()[0]
    passes = []
    original = prep.transform
    monkeypatch.setattr(prep, "transform", lambda X, **kw: passes.append(len(X)) or original(X, **kw))
    scored = score_frame(model=model, frame=row, top_k=5)
    assert len(passes) == (0 if compiled else 2)
    assert scored["probability"].iloc[0] == model.estimator.predict_proba(prepare_frame(row)[model.spec.columns])[0, 1]


def test_a_rows_phrases_do_not_depend_on_the_rows_scored_with_it() -> None:
    # Real-time requests are scored together; "Opened emails 3 times" must not turn into "3.0" because
    # another prospect in the same batch opened 2.5 (averaged) emails.
    rows = pd.DataFrame({"emails_opened": [3.0, 2.5, np.nan, 0.0], "web_sessions": [4.0, 1.0, 2.0, 0.0],
                         "intent_score": [62.0, 40.25, np.nan, 0.0], "intent_tier": ["hot", "warm", None, "low"],
                         "employee_band": ["201-1000", None, "1-10", "5001+"], "department": ["sales"] * 4})
    together = phrase_frame(rows.reindex(columns=LEAD_FEATURES.columns).assign(**rows), spec=LEAD_FEATURES)
    for i in range(len(rows)):
        alone = phrase_frame(rows.iloc[[i]].reindex(columns=LEAD_FEATURES.columns).assign(**rows.iloc[[i]]),
                             spec=LEAD_FEATURES)
        assert alone.iloc[0].tolist() == together.iloc[i].tolist()
    assert together["emails_opened"].tolist() == ["Opened emails 3 times", "Opened emails 2.5 times",
                                                  "Email opens unknown", "No email opens"]
    assert together["intent"].tolist() == ["Intent tier hot (score 62)", "Intent tier warm (score 40.2)",
                                           "Intent unknown", "Intent tier low (score 0)"]
    assert together["employee_band"].tolist() == ["201-1000 employees", "Company size unknown", "1-10 employees",
                                                  "5001+ employees"]

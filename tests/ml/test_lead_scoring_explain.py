"""Explanations add up to the score for every row, for both model families, and read as plain words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.lead_scoring.explain import MINUS, ScoreAttribution, explain, phrase_frame, to_score
from models.lead_scoring.features import LEAD_FEATURES, prepare_frame
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

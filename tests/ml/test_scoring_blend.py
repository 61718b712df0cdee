"""Pure helpers of the platform's lead scoring: team blend, readiness, quality rule, drift reference."""

from __future__ import annotations

import numpy as np
import pytest

from models.lead_scoring.evaluate import histogram_sample, population_stability_index, score_histogram
from models.lead_scoring.rules import RuleSet
from pipelines.ml.training import quality_problems, readiness
from serving.scoring.blend import score_prospects

RULES = RuleSet.model_validate({
    "name": "Exec", "mode": "blend", "ml_weight": 0.5, "base_points": 0,
    "rules": [{"name": "Executive title", "points": 60,
               "when": [{"op": "contains", "column": "title", "values": ["vp", "chief"]}]}]})


@pytest.fixture(scope="module")
def frame(signal_frame):
    rows = signal_frame[signal_frame["snapshot_date"] == signal_frame["snapshot_date"].max()].head(400).copy()
    rows["team_id"] = np.where(np.arange(len(rows)) % 2 == 0, "t1", "t2")
    return rows


def test_blend_applies_rules_only_to_the_teams_rows_and_adds_up(trained, frame):
    scored = score_prospects(model=trained.best, frame=frame, rule_sets={"t1": RULES})
    t1, t2 = scored[scored["team_id"] == "t1"], scored[scored["team_id"] == "t2"]
    assert set(t1["mode"]) == {"blend"} and set(t2["mode"]) == {"ml_only"}
    assert (t2["score"] - t2["ml_score"]).abs().max() <= 1  # ML-only rows keep the model's score
    exec_rows = t1[frame.loc[frame["team_id"] == "t1", "title"].str.contains("VP|Chief", case=False).to_numpy()]
    assert len(exec_rows) and (exec_rows["score"] > exec_rows["ml_score"] * 0.5).all()
    totals = scored["baseline"] + scored["top_factors"].map(lambda fs: sum(f["impact"] for f in fs)) \
        + scored["other_impact"]
    assert (totals == scored["score"]).all()
    assert scored["top_factors"].map(len).between(0, 5).all()  # a prospect at the baseline has none
    assert any(f["factor"] == "Executive title" for fs in t1["top_factors"] for f in fs)


def test_blend_without_explanations_is_the_model_score(trained, frame):
    scored = score_prospects(model=trained.best, frame=frame, explain_factors=False)
    assert (scored["score"] == scored["ml_score"]).all() and "top_factors" not in scored


def test_readiness_reasons():
    assert readiness(150, 40, 6, organization_id="o").reason.startswith("150 label-complete rows")
    assert "converted" in readiness(500, 5, 6, organization_id="o").reason
    assert "non-converted" in readiness(500, 495, 6, organization_id="o").reason
    assert "snapshot dates" in readiness(500, 50, 2, organization_id="o").reason
    assert readiness(500, 50, 6, organization_id="o").ready


def test_quality_rule_floor_and_tolerance():
    def evaluation(challenger, champion=None):
        return {"holdout": {"challenger": {"roc_auc": challenger},
                            "champion": {"version": "v1", "roc_auc": champion} if champion else None}}

    assert quality_problems(evaluation(0.8)) == []
    assert quality_problems(evaluation(0.8, 0.81)) == []
    assert "worse than champion v1" in quality_problems(evaluation(0.75, 0.8))[0]
    assert "below the floor" in quality_problems(evaluation(0.55))[0]


def test_drift_reference_histogram_round_trips():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 101, size=5000)
    histogram = score_histogram(scores)
    assert len(histogram) == 101 and sum(histogram) == 5000
    assert population_stability_index(expected=histogram_sample(histogram), actual=scores) < 0.01
    shifted = np.clip(scores + 40, 0, 100)
    assert population_stability_index(expected=histogram_sample(histogram), actual=shifted) > 0.2

"""Custom rule-based scoring: schema validation, vectorised evaluation, clamping and the blend with ML."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from models.lead_scoring.explain import ScoreAttribution, explain
from models.lead_scoring.features import prepare_frame
from models.lead_scoring.rules import LIMIT_FACTOR, RuleSet, rule_attribution, score_with_rules
from models.lead_scoring.train import TrainingResult

RULES = {
    "name": "Enterprise fit",
    "mode": "rules_only",
    "base_points": 10,
    "rules": [
        {"name": "Executive title", "points": 30, "when": [{"op": "contains", "values": ["vp", "chief"]}]},
        {"name": "Target industry", "points": 20,
         "when": [{"op": "in", "column": "industry", "values": ["Software", "fintech"]}]},
        {"name": "Mid-market or larger", "points": 15,
         "when": [{"op": "in", "column": "employee_band", "values": ["201-1000", "1001-5000", "5001+"]}]},
        {"name": "Replied and hot intent", "points": 40,
         "when": [{"op": "gte", "column": "emails_replied", "value": 1},
                  {"op": "in", "column": "intent_tier", "values": ["hot", "burning"]}]},
        {"name": "Gone quiet", "points": -25, "when": [{"op": "gte", "column": "days_since_last_engagement",
                                                       "value": 60}]},
    ],
}


@pytest.fixture
def leads() -> pd.DataFrame:
    return pd.DataFrame({
        "title": ["VP of Sales", "Marketing Analyst", "Chief Revenue Officer", None],
        "industry": ["software", "retail", "fintech", "software"],
        "employee_band": ["1001-5000", "11-50", "5001+", None],
        "emails_replied": [2, 0, 1, np.nan],
        "intent_tier": ["hot", "low", "burning", "hot"],
        "days_since_last_engagement": [3, 75, 1, np.nan],
    })


def test_rule_set_is_validated_json() -> None:
    rule_set = RuleSet.model_validate(RULES)
    assert RuleSet.model_validate_json(rule_set.model_dump_json()) == rule_set
    bad_cases = [
        ({"rules": [{"name": "x", "points": 5, "when": [{"op": "in", "column": "favourite_colour",
                                                        "values": ["red"]}]}]}, "text column"),
        ({"rules": [{"name": "x", "points": 5, "when": [{"op": "gte", "column": "industry", "value": 3}]}]},
         "numeric column"),
        ({"rules": [{"name": "x", "points": 5, "when": [{"op": "in", "column": "intent_tier",
                                                        "values": ["scorching"]}]}]}, "unknown intent_tier"),
        ({"rules": [{"name": "x", "points": 500, "when": [{"op": "contains", "values": ["vp"]}]}]}, "points"),
        ({"rules": [{"name": "x", "points": 5, "when": []}]}, "when"),
        ({"rules": [RULES["rules"][0], RULES["rules"][0]]}, "unique"),
        ({"rules": [], "colour": "red"}, "colour"),
        ({"rules": [], "ml_weight": 1.5}, "ml_weight"),
    ]
    for patch, message in bad_cases:
        with pytest.raises(ValidationError, match=message):
            RuleSet.model_validate({"name": "t", **patch})


def test_rules_are_evaluated_per_row(leads: pd.DataFrame) -> None:
    attribution = rule_attribution(frame=leads, rule_set=RuleSet.model_validate(RULES))
    # rows 0 and 2: 10 + 30 + 20 + 15 + 40 = 115, capped at 100; row 1: 10 - 25, floored at 0;
    # row 3: a missing title, band or reply count never fires a rule: 10 + 20
    assert attribution.scores.tolist() == [100, 0, 100, 30]
    assert attribution.contributions.loc[1, LIMIT_FACTOR] == 15
    assert attribution.contributions.loc[0, LIMIT_FACTOR] == -15
    factors = attribution.top_factors(top_k=10)
    assert {"factor": "Executive title", "impact": 30, "feature": "rule:Executive title",
            "text": "Executive title: +30"} in factors[0]
    assert [f["text"] for f in factors[1]] == ["Gone quiet: \u221225", "Rule score floored at 0: +15"]
    baseline, ints = attribution.rounded()
    np.testing.assert_array_equal(baseline + ints.sum(axis=1).to_numpy(), attribution.scores)


def test_blend_weights_ml_and_rules(leads: pd.DataFrame) -> None:
    rule_set = RuleSet.model_validate({**RULES, "mode": "blend", "ml_weight": 0.7})
    ml = ScoreAttribution.from_scores([20.0, 60.0, 44.0, 9.0], index=leads.index)
    blended = score_with_rules(frame=leads, rule_set=rule_set, ml=ml)
    expected = np.floor(0.7 * np.array([20, 60, 44, 9]) + 0.3 * np.array([100, 0, 100, 30]) + 0.5)
    assert blended.scores.tolist() == expected.astype(int).tolist()
    baseline, ints = blended.rounded()
    np.testing.assert_array_equal(baseline + ints.sum(axis=1).to_numpy(), blended.scores)
    assert "Model score" in {f["factor"] for f in blended.top_factors(top_k=3)[0]}

    ml_only = rule_set.model_copy(update={"mode": "ml_only"})
    assert score_with_rules(frame=leads, rule_set=ml_only, ml=ml) is ml
    with pytest.raises(ValueError, match="needs the ML score"):
        score_with_rules(frame=leads, rule_set=rule_set)


def test_blend_with_model_explanations_keeps_every_factor(trained: TrainingResult) -> None:
    model = trained.candidates["logistic_regression"]
    frame = prepare_frame(trained.validation.iloc[:100])
    rule_set = RuleSet.model_validate({**RULES, "mode": "blend", "ml_weight": 0.5})
    blended = score_with_rules(frame=frame, rule_set=rule_set, ml=explain(model=model, frame=frame))
    assert {"intent", "rule:Executive title", LIMIT_FACTOR} <= set(blended.contributions.columns)
    baseline, ints = blended.rounded()
    np.testing.assert_array_equal(baseline + ints.sum(axis=1).to_numpy(), blended.scores)
    assert blended.scores.min() >= 0 and blended.scores.max() <= 100


def test_a_rule_on_a_missing_column_is_an_error(leads: pd.DataFrame) -> None:
    rule_set = RuleSet.model_validate({"name": "t", "rules": [
        {"name": "Spike", "points": 5, "when": [{"op": "gte", "column": "intent_spike", "value": 1}]}]})
    with pytest.raises(ValueError, match="intent_spike"):
        rule_attribution(frame=leads, rule_set=rule_set)

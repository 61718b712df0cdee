"""Team-defined rule-based scoring (seed 3.3 "custom scoring models") and its blend with the ML score.

A rule set is plain JSON validated by `RuleSet` (the API stores it per team). Each rule adds its
points when all its conditions hold; the rule score is base points + fired rules, clamped to 0–100.
A condition on a missing value never holds. Each fired rule is an explanation factor, and so is the
clamp when it bites, so factors still add up to the score.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from models.lead_scoring.explain import ScoreAttribution
from models.lead_scoring.features import LEAD_FEATURES, FeatureSpec

RULE_PREFIX = "rule:"
LIMIT_FACTOR = "rule:limit"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContainsCondition(_Strict):
    """Text contains any of the values, case-insensitively (e.g. title contains "VP", "Chief")."""

    op: Literal["contains"]
    column: str = "title"
    values: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(min_length=1, max_length=50)


class InCondition(_Strict):
    """Category is (not) one of the values, case-insensitively (industry, employee band, intent tier…)."""

    op: Literal["in", "not_in"]
    column: str
    values: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(min_length=1, max_length=200)


class CompareCondition(_Strict):
    """Number at least / at most a value (behaviour counts, intent score, recency)."""

    op: Literal["gte", "lte"]
    column: str
    value: float = Field(ge=-1e12, le=1e12, allow_inf_nan=False)  # finite: a rule compares real counts


Condition = Annotated[ContainsCondition | InCondition | CompareCondition, Field(discriminator="op")]


class Rule(_Strict):
    name: str = Field(min_length=1, max_length=120, description="Shown to users as the explanation factor")
    points: int = Field(ge=-100, le=100)
    when: list[Condition] = Field(min_length=1, max_length=10, description="All must hold")


class RuleSet(_Strict):
    """A team's custom scoring model. Validated against the lead-feature spec (or `context={"spec": ...}`)."""

    name: str = Field(min_length=1, max_length=120)
    mode: Literal["ml_only", "rules_only", "blend"] = "blend"
    ml_weight: float = Field(0.5, ge=0.0, le=1.0, description="Share of the ML score in blend mode")
    base_points: int = Field(0, ge=0, le=100)
    rules: list[Rule] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _check_columns(self, info: ValidationInfo) -> Self:
        spec: FeatureSpec = (info.context or {}).get("spec", LEAD_FEATURES)
        text = set(spec.categorical) | set(spec.context_columns)
        names = [rule.name for rule in self.rules]
        if len(set(names)) != len(names):
            raise ValueError("rule names must be unique")
        for rule in self.rules:
            for cond in rule.when:
                _check_condition(cond, spec=spec, text_columns=text, rule=rule.name)
        return self


def _check_condition(cond: Any, *, spec: FeatureSpec, text_columns: set[str], rule: str) -> None:
    where = f"rule {rule!r}: "
    if isinstance(cond, CompareCondition):
        if cond.column not in spec.numeric:
            raise ValueError(f"{where}{cond.op} needs a numeric column, one of {', '.join(spec.numeric)}")
        return
    if cond.column not in text_columns:
        raise ValueError(f"{where}{cond.op} needs a text column, one of {', '.join(sorted(text_columns))}")
    if isinstance(cond, InCondition) and cond.column in spec.columns:
        known = spec.feature(cond.column).categories
        unknown = [v for v in cond.values if known and v.lower() not in known]
        if unknown:
            raise ValueError(f"{where}unknown {cond.column} value(s) {unknown}; expected {list(known)}")


def rule_attribution(*, frame: pd.DataFrame, rule_set: RuleSet) -> ScoreAttribution:
    """Rule score of every row (vectorised: one boolean mask per condition), with one factor per rule."""
    n = len(frame)
    points, phrases = {}, {}
    for rule in rule_set.rules:
        fired = np.ones(n, dtype=bool)
        for cond in rule.when:
            fired &= _holds(frame, cond)
        points[RULE_PREFIX + rule.name] = np.where(fired, float(rule.points), 0.0)
        phrases[RULE_PREFIX + rule.name] = rule.name
    raw = rule_set.base_points + (np.sum(list(points.values()), axis=0) if points else np.zeros(n))
    points[LIMIT_FACTOR] = np.clip(raw, 0, 100) - raw
    limit_phrase = np.where(raw > 100, "Rule score capped at 100", "Rule score floored at 0")
    return ScoreAttribution(
        baseline=np.full(n, float(rule_set.base_points)),
        contributions=pd.DataFrame(points, index=frame.index),
        phrases=pd.DataFrame({**phrases, LIMIT_FACTOR: limit_phrase}, index=frame.index, dtype=object),
    )


def score_with_rules(*, frame: pd.DataFrame, rule_set: RuleSet, ml: ScoreAttribution | None = None
                     ) -> ScoreAttribution:
    """The team's final score per `rule_set.mode`; `ml` is the ML attribution (`explain`) or
    `ScoreAttribution.from_scores(...)` when ML factors are not needed. `.scores` and `.top_factors()` of
    the result give the final integer score and its factors (rules and ML factors side by side)."""
    if rule_set.mode != "rules_only" and ml is None:
        raise ValueError(f"mode {rule_set.mode!r} needs the ML score")
    if rule_set.mode == "ml_only":
        return ml
    rules = rule_attribution(frame=frame, rule_set=rule_set)
    return rules if rule_set.mode == "rules_only" else ml.blend(rules, weight=rule_set.ml_weight)


def _holds(frame: pd.DataFrame, cond: Any) -> np.ndarray:
    if cond.column not in frame.columns:
        raise ValueError(f"rule column {cond.column!r} is not in the frame")
    values = frame[cond.column]
    if isinstance(cond, CompareCondition):
        numbers = pd.to_numeric(values, errors="coerce")
        hit = numbers >= cond.value if cond.op == "gte" else numbers <= cond.value
        return hit.fillna(False).to_numpy(bool)
    text = values.astype("str").str.lower()
    if isinstance(cond, ContainsCondition):
        pattern = "|".join(re.escape(v.lower()) for v in cond.values)
        hit = text.str.contains(pattern, regex=True, na=False)
    else:
        hit = text.isin([v.lower() for v in cond.values])
        hit = ~hit if cond.op == "not_in" else hit
    return (hit & values.notna()).to_numpy(bool)

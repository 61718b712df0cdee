"""Per-prospect explanations: additive factor contributions on the 0–100 score scale, in plain words.

For every row, baseline + sum(contributions) == score. The baseline is the score of a reference
prospect (median / most common training values); each factor is a feature group from the spec.

- Logistic regression: exact. The pipeline is additive in log-odds over features (every transformer
  works column by column), so substituting one group into the reference row gives that group's
  log-odds contribution exactly. The calibrated probability change from the reference is then shared
  in proportion to those log-odds contributions (the secant slope of the calibration map). All groups'
  substitutions are stacked into one `decision_function` call.
- Gradient boosting: baseline-substitution Shapley values over the groups, estimated with antithetic
  permutation sampling. Along each permutation the marginal changes telescope from the reference
  score to the row's score, so the sum is exact for every permutation; only the split between factors
  is an estimate. Every step of every permutation, for all rows, is stacked into one `predict_proba`
  call (no Python loop over rows, steps or permutations: one row costs one call, not one per step).

The reference prospect's score (and log-odds) is computed once per loaded estimator, and a caller that
has the rows' probability already (scoring) passes it in, so explaining one row costs one model call.

Integer contributions use largest-remainder rounding, so the displayed integers add up to the
integer score exactly.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from models.lead_scoring.compiled import CompiledModel, compiled
from models.lead_scoring.features import Feature, FeatureSpec, prepare_frame
from models.lead_scoring.train import LeadScoringModel

MINUS = "\u2212"
_STACK_ROWS = 250_000  # rows per batched predict call while building substitution frames
_FEW_VALUES = 16  # up to this many values, distinct values are found with a dict rather than pd.factorize


def to_score(probability: Any) -> np.ndarray:
    """Calibrated probability → integer score 0–100 (half rounds up)."""
    return np.clip(np.floor(np.asarray(probability, dtype=float) * 100 + 0.5), 0, 100).astype(int)


@dataclass(frozen=True)
class ScoreAttribution:
    """An additive decomposition of scores: `value == baseline + contributions.sum(axis=1)` per row."""

    baseline: np.ndarray  # per row, on the 0–100 scale
    contributions: pd.DataFrame  # one column per factor, on the 0–100 scale
    phrases: pd.DataFrame  # same shape: what each factor is for that row, in plain words

    @property
    def value(self) -> np.ndarray:
        return self.baseline + self.contributions.to_numpy().sum(axis=1)

    @property
    def scores(self) -> np.ndarray:
        return np.clip(np.floor(self.value + 0.5), 0, 100).astype(int)

    def rounded(self) -> tuple[np.ndarray, pd.DataFrame]:
        """Integer baseline and contributions whose row sums equal `scores` exactly."""
        base, ints = rounded_contributions(self.baseline, self.contributions.to_numpy(dtype=float))
        return base, pd.DataFrame(ints, columns=self.contributions.columns, index=self.contributions.index)

    def factors(self, *, top_k: int | None = 5) -> pd.DataFrame:
        """Long frame of the largest non-zero factors per row: row, rank, factor, impact, text."""
        _, ints = self.rounded()
        impact = ints.to_numpy()
        order = np.argsort(-np.abs(impact), axis=1, kind="stable")[:, :top_k]
        rows = np.repeat(np.arange(len(impact)), order.shape[1])
        cols = order.ravel()
        values = impact[rows, cols]
        phrases = self.phrases.to_numpy()[rows, cols]
        signs = np.where(values > 0, "+", MINUS)  # zero impacts are dropped below
        long = pd.DataFrame({
            "row": rows, "rank": np.tile(np.arange(order.shape[1]), len(impact)) + 1,
            "factor": np.asarray(self.contributions.columns)[cols], "impact": values,
            "text": pd.Series(phrases, dtype=object) + ": " + signs + np.abs(values).astype(str),
            "phrase": phrases,
        })
        return long[long["impact"] != 0].reset_index(drop=True)

    def top_factors(self, *, top_k: int = 5) -> list[list[dict[str, Any]]]:
        """Per row, JSON-ready factors (`factor` is the plain-word phrase, `impact` the signed points)."""
        _, ints = self.rounded()
        return top_factor_lists(ints.to_numpy(), self.phrases.to_numpy(), list(self.contributions.columns),
                                top_k=top_k)

    @classmethod
    def from_scores(cls, scores: Any, *, factor: str = "model_score", phrase: str = "Model score",
                    index: pd.Index | None = None) -> ScoreAttribution:
        """Scores without a breakdown, as one factor per row (to blend rules with unexplained ML scores)."""
        values = np.asarray(scores, dtype=float)
        index = index if index is not None else pd.RangeIndex(len(values))
        return cls(baseline=np.zeros(len(values)), contributions=pd.DataFrame({factor: values}, index=index),
                   phrases=pd.DataFrame({factor: phrase}, index=index, dtype=object))

    def blend(self, other: ScoreAttribution, *, weight: float) -> ScoreAttribution:
        """`weight` × self + (1 − weight) × other, keeping every factor of both."""
        return ScoreAttribution(
            baseline=weight * self.baseline + (1 - weight) * other.baseline,
            contributions=pd.concat([self.contributions * weight, other.contributions * (1 - weight)],
                                    axis=1),
            phrases=pd.concat([self.phrases, other.phrases], axis=1),
        )


def _scores(value: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(value + 0.5), 0, 100).astype(int)


def rounded_contributions(baseline: np.ndarray, contributions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`ScoreAttribution.rounded` on arrays: integer baseline and contributions (largest remainder) whose row
    sums equal the integer scores exactly."""
    base = np.floor(baseline + 0.5).astype(int)
    c = contributions
    floor = np.floor(c)
    remainder = np.clip(_scores(baseline + c.sum(axis=1)) - base - floor.sum(axis=1), 0, c.shape[1]).astype(int)
    rank = np.argsort(np.argsort(floor - c, axis=1, kind="stable"), axis=1, kind="stable")
    return base, (floor + (rank < remainder[:, None])).astype(int)


def top_factor_lists(impact: np.ndarray, phrases: np.ndarray, factors: list[str], *,
                     top_k: int | None = 5) -> list[list[dict[str, Any]]]:
    """Per row, the largest non-zero integer impacts as {factor (phrase), impact, feature, text}, largest
    first (ties in factor order): `ScoreAttribution.top_factors` on arrays (one row costs a few µs, where
    the long frame of `factors()` costs a millisecond)."""
    order = np.argsort(-np.abs(impact), axis=1, kind="stable")[:, :top_k]
    out: list[list[dict[str, Any]]] = []
    for row, columns in enumerate(order.tolist()):
        listed = []
        for column in columns:
            value = int(impact[row, column])
            if value:
                phrase = phrases[row, column]
                listed.append({"factor": phrase, "impact": value, "feature": factors[column],
                               "text": f"{phrase}: {'+' if value > 0 else MINUS}{abs(value)}"})
        out.append(listed)
    return out


def explain(*, model: LeadScoringModel, frame: Any, n_permutations: int = 8,
            seed: int = 0) -> ScoreAttribution:
    """Attribute every row's score to the model's feature groups (see the module docstring for the method)."""
    return explain_prepared(model=model, prepared=prepare_frame(frame, spec=model.spec),
                            n_permutations=n_permutations, seed=seed)


def explain_prepared(*, model: LeadScoringModel, prepared: pd.DataFrame, probability: np.ndarray | None = None,
                     n_permutations: int = 8, seed: int = 0) -> ScoreAttribution:
    """`explain` of a frame that went through `prepare_frame` already; `probability` is the calibrated
    probability of its rows when the caller has it (scoring computes it anyway), so it is not predicted twice."""
    spec = model.spec
    X = prepared[spec.columns].reset_index(drop=True)
    reference = _reference(model)
    # The compiled model (same numbers, bit for bit) where there is one: substitutions are then stacked on
    # encoded rows and the whole explanation is one numpy call, without the pandas and sklearn fixed cost.
    fast = compiled(model)
    encoded = fast.encode(X) if fast is not None and reference.encoded is not None else None
    if encoded is not None and not fast.finite(encoded):
        encoded = None  # scikit-learn refuses infinities, and so the explanation still does
    if probability is None:
        probability = fast.probability(encoded) if encoded is not None else model.estimator.predict_proba(X)[:, 1]
    score = 100 * np.asarray(probability, dtype=float)
    numbers = _Stacked(fast, encoded, reference.encoded, spec) if encoded is not None else None
    if reference.z is not None:
        contributions = _linear_contributions(reference, X, spec, score - reference.baseline, numbers)
    else:
        contributions = _shapley_contributions(model, X, reference, spec, score, n_permutations, seed, numbers)
    index = prepared.index
    return ScoreAttribution(
        baseline=np.full(len(X), reference.baseline),
        contributions=pd.DataFrame(contributions, columns=list(spec.groups), index=index),
        phrases=phrase_frame(prepared, spec=spec).set_axis(index),
    )


def explain_encoded(*, model: LeadScoringModel, encoded: np.ndarray, columns: dict[str, np.ndarray],
                    probability: np.ndarray, n_permutations: int = 8, seed: int = 0
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """`explain_prepared` of rows already encoded for the compiled model, without frames: (baseline,
    contributions rows × factors, phrases rows × factors), the same numbers and words; `columns` holds each
    feature's prepared values (floats, text or NaN). None when the model is not compiled."""
    spec = model.spec
    reference = _reference(model)
    fast = compiled(model)
    if fast is None or reference.encoded is None:
        return None
    score = 100 * np.asarray(probability, dtype=float)
    numbers = _Stacked(fast, encoded, reference.encoded, spec)
    if reference.z is not None:
        contributions = _linear_contributions(reference, None, spec, score - reference.baseline, numbers)
    else:
        contributions = _shapley_contributions(model, None, reference, spec, score, n_permutations, seed, numbers)
    words = phrase_columns(columns, spec=spec)
    phrases = np.empty((len(encoded), len(words)), dtype=object)
    for g, values in enumerate(words.values()):
        phrases[:, g] = values
    return np.full(len(encoded), reference.baseline), contributions, phrases


@dataclass(frozen=True)
class _Reference:
    """What every explanation of one model starts from: computed once per fitted estimator."""

    baseline_row: dict[str, Any]  # the card's reference values this was computed from
    row: pd.DataFrame  # the reference prospect, prepared, spec columns
    baseline: float  # its calibrated score, 0–100
    pipeline: Any  # the uncalibrated pipeline
    z: float | None  # its log-odds under a logistic pipeline (None: not additive, Shapley sampling)
    encoded: np.ndarray | None  # the row encoded for the compiled model (None: the model is not compiled)


# Keyed by the estimator object: a loaded champion is explained on every real-time request, and its reference
# score and log-odds never change. Weak keys let an evicted model go.
_references: weakref.WeakKeyDictionary[Any, _Reference] = weakref.WeakKeyDictionary()
_references_lock = threading.Lock()


def _reference(model: LeadScoringModel) -> _Reference:
    with _references_lock:
        cached = _references.get(model.estimator)
    if cached is not None and cached.baseline_row == model.card.baseline_row:
        return cached
    row = model.reference()
    pipeline = model.base_pipeline()
    linear = isinstance(pipeline[-1], LogisticRegression)
    fast = compiled(model)
    cached = _Reference(baseline_row=dict(model.card.baseline_row), row=row,
                        baseline=100 * float(model.estimator.predict_proba(row)[0, 1]), pipeline=pipeline,
                        z=float(pipeline.decision_function(row)[0]) if linear else None,
                        encoded=fast.encode(row) if fast is not None else None)
    with _references_lock:
        _references[model.estimator] = cached
    return cached


def _substituted(X: pd.DataFrame, reference: pd.DataFrame, masks: np.ndarray,
                 groups: dict[str, list[str]]) -> pd.DataFrame:
    """len(masks) stacked copies of the reference row, copy s taking group g from X where masks[s, g]."""
    n, steps = len(X), len(masks)
    columns = {}
    for g, names in enumerate(groups.values()):
        from_x = np.repeat(masks[:, g], n)
        for name in names:
            columns[name] = np.where(from_x, np.tile(X[name].to_numpy(), steps), reference[name].iloc[0])
    return pd.DataFrame(columns)[list(X.columns)].astype({c: X[c].dtype for c in X.columns})


@dataclass(frozen=True)
class _Stacked:
    """Substitutions on encoded rows for the compiled model (encoding is column by column, so taking a
    group's columns from the row or the reference is the same before or after it)."""

    model: CompiledModel
    encoded: np.ndarray  # the rows
    reference: np.ndarray  # the reference row, 1 × columns
    spec: FeatureSpec

    def substituted(self, rows: slice, masks: np.ndarray) -> np.ndarray:
        """As `_substituted`: len(masks) stacked copies of the reference, copy s taking group g from the rows
        where masks[s, g]."""
        part = self.encoded[rows]
        group_of = {name: g for g, names in enumerate(self.spec.groups.values()) for name in names}
        take = np.repeat(masks[:, [group_of[c] for c in self.model.columns]], len(part), axis=0)
        return np.where(take, np.tile(part, (len(masks), 1)), self.reference)

    def probability(self, rows: slice, masks: np.ndarray) -> np.ndarray:
        """The compiled model's probability of `substituted(rows, masks)`, without building the stack when the
        model can walk it as substitutions (`CompiledModel.substituted_probability`)."""
        group_of = {name: g for g, names in enumerate(self.spec.groups.values()) for name in names}
        take = masks[:, [group_of[c] for c in self.model.columns]]
        return self.model.substituted_probability(self.encoded[rows], self.reference, take)


def _linear_contributions(reference: _Reference, X: pd.DataFrame | None, spec: FeatureSpec,
                          delta: np.ndarray, numbers: _Stacked | None = None) -> np.ndarray:
    groups = spec.groups
    n_groups = len(groups)
    n = len(numbers.encoded) if numbers is not None else len(X)
    dz = np.empty((n, n_groups))
    chunk = max(1, _STACK_ROWS // n_groups)
    for start in range(0, n, chunk):
        part = numbers.encoded[start:start + chunk] if numbers is not None else X.iloc[start:start + chunk]
        # one decision_function call: every group substituted into the reference, for every row of the chunk
        # (the compiled model multiplies the same stacked matrix, so it gives the same numbers)
        masks = np.eye(n_groups, dtype=bool)
        z = numbers.model.decision(numbers.substituted(slice(start, start + len(part)), masks)) \
            if numbers is not None else reference.pipeline.decision_function(
                _substituted(part, reference.row, masks, groups))
        dz[start:start + len(part)] = z.reshape(n_groups, len(part)).T - reference.z
    total = dz.sum(axis=1, keepdims=True)
    share = np.divide(dz, total, out=np.full_like(dz, 1.0 / n_groups), where=np.abs(total) > 1e-9)
    return share * delta[:, None]


def _shapley_contributions(model: LeadScoringModel, X: pd.DataFrame | None, reference: _Reference,
                           spec: FeatureSpec,
                           score: np.ndarray, n_permutations: int, seed: int,
                           numbers: _Stacked | None = None) -> np.ndarray:
    groups = spec.groups
    n_groups = len(groups)
    rng = np.random.default_rng(seed)
    half = [rng.permutation(n_groups) for _ in range(max(1, n_permutations // 2))]
    permutations = half + [p[::-1] for p in half]  # antithetic pairs cut the variance
    # step s of a permutation holds its first s + 1 groups; the last step (all groups) is the row itself
    steps = n_groups - 1
    masks = np.empty((len(permutations) * steps, n_groups), dtype=bool)
    for k, perm in enumerate(permutations):
        position = np.empty(n_groups, dtype=int)
        position[perm] = np.arange(n_groups)
        masks[k * steps:(k + 1) * steps] = position[None, :] <= np.arange(steps)[:, None]
    n = len(numbers.encoded) if numbers is not None else len(X)
    contributions = np.zeros((n, n_groups))
    chunk = max(1, _STACK_ROWS // max(1, len(masks)))
    for start in range(0, n, chunk):
        part = numbers.encoded[start:start + chunk] if numbers is not None else X.iloc[start:start + chunk]
        rows = slice(start, start + len(part))
        # one predict_proba call for every step of every permutation of every row of the chunk
        probability = numbers.probability(rows, masks) if numbers is not None \
            else model.estimator.predict_proba(_substituted(part, reference.row, masks, groups))[:, 1]
        values = 100 * probability
        values = values.reshape(len(permutations), steps, len(part))
        for k, perm in enumerate(permutations):
            path = np.vstack([np.full(len(part), reference.baseline), values[k], score[rows]])
            contributions[rows][:, perm] += np.diff(path, axis=0).T
    return contributions / len(permutations)


# ---------------------------------------------------------------------------------------------------
# plain words

def phrase_frame(frame: pd.DataFrame, *, spec: FeatureSpec) -> pd.DataFrame:
    """One plain-word phrase per row and explanation factor ("Intent tier hot (score 62)").

    A row's phrases depend on that row alone (never on the other rows scored with it), and each distinct
    value is formatted once on plain arrays: one row costs a few lookups, a million rows a few hundred
    formats (pandas string methods cost more than the model on one row).
    """
    columns = {name: frame[name].to_numpy() for name in spec.columns if name in frame.columns}
    return pd.DataFrame(phrase_columns(columns, spec=spec), index=frame.index, dtype=object)


def phrase_columns(columns: dict[str, np.ndarray], *, spec: FeatureSpec) -> dict[str, np.ndarray]:
    """`phrase_frame` on plain arrays (feature → its values): explanation factor → phrase per row."""
    phrases = {}
    for group, names in spec.groups.items():
        builder = GROUP_PHRASES.get(group)
        if builder is not None and all(n in columns for n in names):
            phrases[group] = builder(columns)
        else:
            parts = [_feature_phrases(spec.feature(n), columns[n]) for n in names]
            joined = parts[0]
            for part in parts[1:]:
                joined = joined + ", " + part
            phrases[group] = joined
    return phrases


def feature_phrase(feature: Feature, values: pd.Series) -> pd.Series:
    """Fill the feature's template with each value; `zero` / `missing` templates take precedence."""
    return pd.Series(_feature_phrases(feature, values.to_numpy()), index=values.index, dtype=object)


def _feature_phrases(feature: Feature, values: np.ndarray) -> np.ndarray:
    template = feature.phrase or f"{feature.label} is {{value}}"
    categorical = feature.kind == "categorical"
    prefix, found, suffix = template.partition("{value}")

    def phrase(value: Any) -> str:
        if feature.zero is not None and not categorical and value == 0:
            return feature.zero
        return prefix + _display_one(value, categorical=categorical) + suffix if found else template

    return _per_value(values if categorical else _numbers(values), phrase,
                      missing=feature.missing or f"{feature.label} unknown")


def _per_value(values: np.ndarray, phrase: Callable[[Any], str], *, missing: str) -> np.ndarray:
    """`phrase(value)` for every element, computed once per distinct value; `missing` where there is none."""
    if len(values) <= _FEW_VALUES:
        # a real-time pass: a dict of the values seen, as pd.factorize groups them (equal values, missing ones
        # apart), without its fixed cost (~30 µs a call, 17 calls an explained row)
        seen: dict[Any, str] = {}
        out = np.empty(len(values), dtype=object)
        for k, value in enumerate(values):
            if pd.isna(value):
                out[k] = missing
            else:
                text = seen.get(value)
                out[k] = text if text is not None else seen.setdefault(value, phrase(value))
        return out
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.array([phrase(u) for u in uniques] + [missing], dtype=object)
    return table[codes]  # the sentinel -1 picks `missing`


def _numbers(values: Any) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype == np.float64:  # prepared frames: nothing to coerce
        return values
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _display_one(value: Any, *, categorical: bool) -> str:
    """A category with spaces for underscores; a number as an integer when it is whole, else to 0.1."""
    if categorical:
        return str(value).replace("_", " ")
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(float(np.round(number, 1)))


def _counts(values: np.ndarray, singular: str, plural: str) -> np.ndarray:
    return _per_value(values, lambda v: _display_one(v, categorical=False) + (singular if v == 1 else plural),
                      missing="")


def _email_replies(columns: dict[str, np.ndarray]) -> np.ndarray:
    sent, replied = _numbers(columns["emails_sent"]), _numbers(columns["emails_replied"])
    sent_text = _counts(sent, " email", " emails")
    return np.select(
        [np.isnan(sent) | np.isnan(replied), replied > 0, sent > 0],
        ["Email history unknown", _counts(replied, " reply to ", " replies to ") + sent_text,
         "No reply to " + sent_text],
        default="No emails sent yet").astype(object)


def _intent(columns: dict[str, np.ndarray]) -> np.ndarray:
    score, tier = _numbers(columns["intent_score"]), np.asarray(columns["intent_tier"])
    score_text = _per_value(score, lambda v: _display_one(v, categorical=False), missing="")
    tier_text = _per_value(tier, str, missing="")
    has_tier, has_score = ~pd.isna(tier), ~np.isnan(score)
    return np.select(
        [has_tier & has_score, has_tier, has_score],
        ["Intent tier " + tier_text + " (score " + score_text + ")", "Intent tier " + tier_text,
         "Intent score " + score_text],
        default="Intent unknown").astype(object)


GROUP_PHRASES: dict[str, Callable[[dict[str, np.ndarray]], np.ndarray]] = {
    "email_replies": _email_replies,
    "intent": _intent,
}

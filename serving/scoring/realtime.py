"""Real-time scores for concurrent requests, computed together: rows that arrive while the model is busy wait
and are then scored in one `score_prospects` pass.

Why: on one row nearly all of a model call is fixed cost (pandas and scikit-learn validation, the stacked
explanation, the plain words), so eight rows cost about what one does; and threads taking turns on the GIL
inside pandas made eight concurrent requests slower in total than one at a time. Only one thread runs model
code per process, and it serves everything queued behind it. A lone request is scored at once, alone.

A row's result does not depend on the rows scored with it: explanations and phrases are per row, rule sets
are per team, and the probability is the calibrated model's own `predict_proba` of that row, bit for bit. A
BLAS product over several rows may round the last bit differently from the same row alone, so a linear
model's final product runs row by row (after one preprocessing pass for the batch); trees sum their leaves
per row, so a gradient-boosting batch is one call.

With a compiled champion (`models/lead_scoring/compiled.py`) a batch without team rules never builds a frame:
about 1 ms of CPU for an explained logistic row and a few ms for a gradient-boosting one (its explanation
walks ~90 substituted rows through every tree), where the frame path cost tens of ms per batch.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression

from models.lead_scoring.compiled import compiled
from models.lead_scoring.explain import explain_encoded, rounded_contributions, to_score, top_factor_lists
from models.lead_scoring.features import FeatureSpec, prepare_frame
from models.lead_scoring.predict import hash_columns, hex_hashes, tier_for
from models.lead_scoring.rules import RuleSet
from models.lead_scoring.train import LeadScoringModel
from serving.scoring.blend import TOP_FACTORS, score_prospects

TEAM_COLUMN = "team_id"

_queue: list[_Pending] = []
_queue_lock = threading.Lock()
_scoring = threading.Lock()  # one thread runs model code at a time, for everything queued


@dataclass(eq=False)
class _Pending:
    model: LeadScoringModel
    row: dict[str, Any]
    team: str | None
    rule_set: RuleSet | None
    explain: bool
    result: dict[str, Any] | None = None
    error: BaseException | None = None
    done: bool = field(default=False)


def score_row(*, model: LeadScoringModel, row: dict[str, Any], team_id: str | None, rule_set: RuleSet | None,
              explain: bool) -> dict[str, Any]:
    """`score_prospects` of one feature row (plus `title`) for a team with its rule set (None: the model's
    score only); returns that row of the result as a dict."""
    item = _Pending(model=model, row={**row, TEAM_COLUMN: team_id}, team=team_id, rule_set=rule_set,
                    explain=explain)
    with _queue_lock:
        _queue.append(item)
    with _scoring:
        if not item.done:  # nobody took it yet: score it with everything queued since
            with _queue_lock:
                batch = list(_queue)
                _queue.clear()
            _score_batch(batch)
    if item.error is not None:
        raise item.error
    return item.result


async def score_row_on_loop(*, model: LeadScoringModel, row: dict[str, Any], team_id: str | None,
                            rule_set: RuleSet | None, explain: bool) -> dict[str, Any] | None:
    """`score_row` on the compiled model, on the running event loop, or None when the row needs the frame path
    (no compiled model, a team's rules, an unusual value): the caller then runs `score_row` in a thread.

    Rows posted while the loop is busy are scored together: the first one schedules a pass for the loop's next
    turn, and every row queued by then joins it. A compiled pass is numpy only (sub-ms for a logistic row; a
    gradient-boosting explanation walks ~90 substituted rows through every tree, ~3 ms, much of it shared by
    the rows of one pass), so it runs on the loop itself: in a thread it waited for the GIL turn of the loop
    and the loop for it (measured: 152 -> 136 req/s with 8 clients)."""
    if compiled(model) is None or (rule_set is not None and rule_set.mode != "ml_only"):
        return None
    loop = asyncio.get_running_loop()
    queue = _loop_queues.setdefault(loop, [])
    if not queue:
        loop.call_soon(_score_loop_queue, loop)
    future: asyncio.Future = loop.create_future()
    queue.append((_Pending(model=model, row={**row, TEAM_COLUMN: team_id}, team=team_id, rule_set=rule_set,
                           explain=explain), future))
    return await future


# Per event loop: rows waiting for the loop's next compiled pass, each with the future its request awaits.
_loop_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[tuple[_Pending, asyncio.Future]]] = \
    weakref.WeakKeyDictionary()


def _score_loop_queue(loop: asyncio.AbstractEventLoop) -> None:
    queued = _loop_queues.pop(loop, [])
    futures = {id(item): future for item, future in queued}
    for group in _groups([item for item, _ in queued]):
        rule_sets = {item.team: item.rule_set for item in group
                     if item.team is not None and item.rule_set is not None}
        try:
            results: list[dict[str, Any] | None] | None = _score_compiled(group[0].model, group, rule_sets)
        except Exception as exc:  # every waiting request gets the answer, the error included
            for item in group:
                if not futures[id(item)].done():
                    futures[id(item)].set_exception(exc)
            continue
        for item, result in zip(group, results or [None] * len(group), strict=True):
            if not futures[id(item)].done():  # a request cancelled meanwhile (client gone)
                futures[id(item)].set_result(result)


def _score_batch(batch: list[_Pending]) -> None:
    for group in _groups(batch):
        try:
            results = _score_group(group)
            for item, result in zip(group, results, strict=True):
                item.result = result
        except Exception as exc:  # every waiting request gets the answer, the error included
            for item in group:
                item.error = exc
        finally:
            for item in group:
                item.done = True


def _groups(batch: list[_Pending]) -> list[list[_Pending]]:
    """Items that can share one pass: same model, same explain flag, and one rule set per team (a team whose
    rules changed between two concurrent reads is scored in two passes, each with the rules it read)."""
    groups: list[tuple[LeadScoringModel, bool, dict[str | None, RuleSet | None], list[_Pending]]] = []
    for item in batch:
        for model, explain, rules, members in groups:
            if model is item.model and explain == item.explain and rules.get(item.team, item.rule_set) == item.rule_set:
                rules[item.team] = item.rule_set
                members.append(item)
                break
        else:
            groups.append((item.model, item.explain, {item.team: item.rule_set}, [item]))
    return [members for *_, members in groups]


def _score_group(group: list[_Pending]) -> list[dict[str, Any]]:
    model = group[0].model
    rule_sets = {item.team: item.rule_set for item in group if item.team is not None and item.rule_set is not None}
    scored = _score_compiled(model, group, rule_sets)
    if scored is not None:
        return scored
    frame = pd.DataFrame([item.row for item in group])
    probability = _row_probabilities(model, frame) if len(group) > 1 and _linear(model) else None
    scored = score_prospects(model=model, frame=frame, rule_sets=rule_sets, explain_factors=group[0].explain,
                             probability=probability)
    return scored.to_dict(orient="records")


def _score_compiled(model: LeadScoringModel, group: list[_Pending], rule_sets: dict[str | None, RuleSet]
                    ) -> list[dict[str, Any]] | None:
    """`score_prospects` of the group's rows with the compiled model and no frames: the same probability,
    scores, factors and inputs hash (tested against it), at a few µs of Python per row where building,
    coercing, hashing and explaining through pandas frames costs tens of ms per batch. None (the caller
    takes the frame path) when the model is not compiled, a team's rules apply (they run on frames), or a
    value is of a type `prepare_frame` would have to coerce."""
    fast = compiled(model)
    if fast is None or any(rule_set.mode != "ml_only" for rule_set in rule_sets.values()):
        return None
    spec = model.spec
    columns = _prepared_columns([item.row for item in group], spec=spec)
    if columns is None:
        return None
    encoded = fast.encode(columns)
    if not fast.finite(encoded):
        return None  # scikit-learn refuses infinities; the frame path raises its error
    probability = fast.probability(encoded, row_by_row=True)
    ml_score = to_score(probability)
    score = ml_score
    hashes = hex_hashes(hash_columns([columns[name] for name in spec.columns]))
    explained = group[0].explain
    if explained:
        attribution = explain_encoded(model=model, encoded=encoded, columns=columns, probability=probability)
        if attribution is None:
            return None
        baseline, contributions, phrases = attribution
        base, impact = rounded_contributions(baseline, contributions)
        factors = top_factor_lists(impact, phrases, list(spec.groups), top_k=TOP_FACTORS)
        # the explanation's integer score equals the model's score up to float rounding at .5 (as in blend)
        score = np.clip(np.floor(baseline + contributions.sum(axis=1) + 0.5), 0, 100).astype(int)
        shown = np.fromiter((sum(f["impact"] for f in row) for row in factors), dtype=int, count=len(factors))
        other = score - base - shown
    tiers = tier_for(score)
    results = []
    for i, item in enumerate(group):
        result = {"probability": float(probability[i]), "ml_score": int(ml_score[i]),
                  "model_version": model.version, "inputs_hash": hashes[i], "mode": "ml_only",
                  TEAM_COLUMN: item.team, "score": int(score[i]), "tier": tiers[i]}
        if explained:
            result.update(top_factors=factors[i], baseline=int(base[i]), other_impact=int(other[i]))
        results.append(result)
    return results


def _prepared_columns(rows: list[dict[str, Any]], *, spec: FeatureSpec) -> dict[str, np.ndarray] | None:
    """The rows' feature values as `prepare_frame` leaves them (numbers float64, categories text with NaN
    for missing), for the plain types the API posts; None for anything it would have to coerce."""
    columns: dict[str, np.ndarray] = {}
    for feature in spec.features:
        values = [row.get(feature.name) for row in rows]
        if feature.kind == "categorical":
            if not all(v is None or type(v) is str for v in values):
                return None
            columns[feature.name] = np.array([np.nan if v is None else v for v in values], dtype=object)
        else:
            if not all(v is None or type(v) in (int, float) for v in values):
                return None
            columns[feature.name] = np.array([np.nan if v is None else v for v in values], dtype="float64")
    return columns


def _linear(model: LeadScoringModel) -> bool:
    return isinstance(model.base_pipeline()[-1], LogisticRegression)


def _row_probabilities(model: LeadScoringModel, frame: pd.DataFrame) -> np.ndarray:
    """Each row's calibrated probability exactly as `model.estimator.predict_proba` gives it for that row alone.

    The preprocessing works value by value, so it runs once for the batch; only the final product runs per
    row (one BLAS call of one row each, as for a request scored alone), then the Platt sigmoid, which is
    elementwise. Checked against the estimator's own answer for the first row of every batch: a model of
    another shape, or a scikit-learn that composes calibration differently, falls back to one full call
    per row.
    """
    X = prepare_frame(frame, spec=model.spec)[model.spec.columns]
    fast = compiled(model)
    if fast is not None:
        encoded = fast.encode(X)
        if fast.finite(encoded):
            return fast.probability(encoded, row_by_row=True)
    calibrator = _sigmoid_calibrator(model.estimator)
    if calibrator is not None:
        pipeline = model.base_pipeline()
        transformed = pipeline[:-1].transform(X)
        z = np.concatenate([pipeline[-1].decision_function(transformed[i:i + 1]) for i in range(len(X))])
        probability = calibrator.predict(z)
        if probability[0] == model.estimator.predict_proba(X.iloc[[0]])[0, 1]:
            return probability
    return np.array([model.estimator.predict_proba(X.iloc[[i]])[0, 1] for i in range(len(X))])


def _sigmoid_calibrator(estimator: Any) -> Any:
    """The one Platt calibrator of a binary, singly calibrated classifier (whose probability is exactly that
    calibrator's output on the model's decision function), else None."""
    if not isinstance(estimator, CalibratedClassifierCV) or len(estimator.calibrated_classifiers_) != 1 \
            or len(estimator.classes_) != 2:
        return None
    calibrated = estimator.calibrated_classifiers_[0]
    if calibrated.method != "sigmoid" or len(calibrated.calibrators) != 1:
        return None
    return calibrated.calibrators[0]

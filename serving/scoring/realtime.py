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
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression

from models.lead_scoring.compiled import compiled
from models.lead_scoring.features import prepare_frame
from models.lead_scoring.rules import RuleSet
from models.lead_scoring.train import LeadScoringModel
from serving.scoring.blend import score_prospects

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
    frame = pd.DataFrame([item.row for item in group])
    rule_sets = {item.team: item.rule_set for item in group if item.team is not None and item.rule_set is not None}
    probability = _row_probabilities(model, frame) if len(group) > 1 and _linear(model) else None
    scored = score_prospects(model=model, frame=frame, rule_sets=rule_sets, explain_factors=group[0].explain,
                             probability=probability)
    return scored.to_dict(orient="records")


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

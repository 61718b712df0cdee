"""Metrics for a lead score (ROC-AUC, PR-AUC, Brier, calibration, lift by decile, PSI) and the model card."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from importlib.metadata import version as package_version
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

LIBRARIES = ("scikit-learn", "skops", "numpy", "pandas", "scipy")


def lift_by_decile(*, y_true: Any, probability: Any) -> pd.DataFrame:
    """Decile 1 holds the top-scored tenth; lift is its conversion rate over the overall rate.

    Ties are broken by row order so that every decile has (almost) the same number of rows.
    """
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(probability, dtype=float)
    order = np.argsort(-p, kind="stable")
    decile = np.empty(len(p), dtype=int)
    decile[order] = np.arange(len(p)) * 10 // max(len(p), 1) + 1
    table = (pd.DataFrame({"decile": decile, "y": y, "p": p}).groupby("decile")
             .agg(rows=("y", "size"), conversions=("y", "sum"), conversion_rate=("y", "mean"),
                  min_probability=("p", "min"), max_probability=("p", "max")).reset_index())
    base = y.mean() if len(y) else np.nan
    table["lift"] = table["conversion_rate"] / base if base > 0 else np.nan
    table["conversions"] = table["conversions"].astype(int)
    return table


def calibration_table(*, y_true: Any, probability: Any, n_bins: int = 10) -> pd.DataFrame:
    """Reliability diagram data: uniform probability bins with mean prediction, observed rate and count."""
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(probability, dtype=float)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    return (pd.DataFrame({"bin": bins, "y": y, "p": p}).groupby("bin")
            .agg(rows=("y", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean")).reset_index()
            .assign(lower=lambda t: t["bin"] / n_bins, upper=lambda t: (t["bin"] + 1) / n_bins))


def classification_metrics(*, y_true: Any, probability: Any, n_bins: int = 10) -> dict[str, Any]:
    """Everything the model card and the CLI report show, as JSON-ready values."""
    y = np.asarray(y_true, dtype=int)
    p = np.clip(np.asarray(probability, dtype=float), 0.0, 1.0)
    both = len(np.unique(y)) == 2
    deciles = lift_by_decile(y_true=y, probability=p)
    return {
        "rows": len(y),
        "positive_rate": float(y.mean()) if len(y) else None,
        "roc_auc": float(roc_auc_score(y, p)) if both else None,
        "pr_auc": float(average_precision_score(y, p)) if both else None,
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "top_decile_lift": float(deciles["lift"].iloc[0]) if len(deciles) else None,
        "calibration": _records(calibration_table(y_true=y, probability=p, n_bins=n_bins)),
        "deciles": _records(deciles),
    }


def population_stability_index(*, expected: Any, actual: Any, bins: int = 10, epsilon: float = 1e-4) -> float:
    """PSI of `actual` against `expected` over the quantile bins of `expected`.

    Common reading: < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 large shift.
    """
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    edges = np.unique(np.quantile(e, np.linspace(0, 1, bins + 1)))
    # open outer edges so that out-of-range actual values land in the first/last bin
    inner = edges[1:-1]
    e_share = np.bincount(np.searchsorted(inner, e, side="right"), minlength=len(inner) + 1) / len(e)
    a_share = np.bincount(np.searchsorted(inner, a, side="right"), minlength=len(inner) + 1) / len(a)
    e_share, a_share = np.maximum(e_share, epsilon), np.maximum(a_share, epsilon)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def library_versions() -> dict[str, str]:
    return {"python": platform.python_version(), **{name: package_version(name) for name in LIBRARIES}}


@dataclass
class ModelCard:
    """What a model is, what it was trained on and how well it did; saved next to the artifact as JSON."""

    family: str
    target: str
    features: dict[str, Any]  # the FeatureSpec as a dict
    candidates: dict[str, dict[str, Any]]  # family → validation (or cross-validation) metrics
    metrics: dict[str, Any]  # the chosen candidate's metrics
    evaluation: str  # "time_split" or "cross_validation"
    calibration: str
    seed: int
    training_seconds: float
    rows: dict[str, int]
    positive_rate: dict[str, float]
    data_window: dict[str, dict[str, str]] | None = None
    baseline_row: dict[str, Any] = field(default_factory=dict)
    version: str | None = None
    name: str = "lead_scoring"
    created_at: str = ""
    library_versions: dict[str, str] = field(default_factory=library_versions)
    notes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN becomes null so that strict parsers such as Postgres jsonb accept it)."""
        return _finite(json.loads(json.dumps(asdict(self), default=_json_default)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        return cls(**data)

    def summary(self) -> dict[str, Any]:
        """Headline numbers for registry listings and the API."""
        keys = ("roc_auc", "pr_auc", "brier", "top_decile_lift")
        return {"version": self.version, "family": self.family, "created_at": self.created_at,
                "evaluation": self.evaluation, "rows": self.rows, "data_window": self.data_window,
                **{k: self.metrics.get(k) for k in keys}}


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(table.to_json(orient="records"))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def score_histogram(scores: Any) -> list[int]:
    """Counts of integer scores 0..100: how a score distribution is stored (e.g. a model's training window)."""
    return np.bincount(np.clip(np.asarray(scores, dtype=int), 0, 100), minlength=101).astype(int).tolist()


def histogram_sample(histogram: list[int]) -> np.ndarray:
    """The scores a histogram stands for, to compare with `population_stability_index`."""
    return np.repeat(np.arange(len(histogram)), np.asarray(histogram, dtype=int))

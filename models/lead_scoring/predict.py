"""Vectorised batch scoring: frame → score 0–100, probability, tier, model version and inputs hash per row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from models.lead_scoring.compiled import predict_probability
from models.lead_scoring.explain import explain_prepared, to_score
from models.lead_scoring.features import FeatureSpec, prepare_frame
from models.lead_scoring.train import LeadScoringModel

# Same cut points as the seed's intent tiers (3.6), so a "hot" lead means the same thing everywhere.
SCORE_TIERS: tuple[tuple[str, int], ...] = (("low", 0), ("warm", 26), ("hot", 51), ("burning", 76))


def tier_for(scores: Any, *, tiers: Sequence[tuple[str, int]] = SCORE_TIERS) -> np.ndarray:
    """Name of the highest tier whose lower bound the score reaches."""
    names = np.asarray([name for name, _ in tiers], dtype=object)
    bounds = np.asarray([low for _, low in tiers])
    return names[np.searchsorted(bounds, np.asarray(scores), side="right") - 1]


def inputs_hash(frame: pd.DataFrame, *, spec: FeatureSpec) -> pd.Series:
    """Stable 16-hex-digit hash of each row's feature values (for the `ai_predictions` log).

    The frame is coerced first, so 3, 3.0 and "3" of a numeric feature hash alike, and so do text
    values from pandas, polars or Postgres; the hash depends on values in spec order, not on the index.
    """
    return _hash_prepared(prepare_frame(frame, spec=spec), spec=spec)


def _hash_prepared(prepared: pd.DataFrame, *, spec: FeatureSpec) -> pd.Series:
    hashed = pd.util.hash_pandas_object(prepared[spec.columns].reset_index(drop=True), index=False).to_numpy()
    hex_digits = hashed.astype(">u8").tobytes().hex().encode()  # one pass, fixed width, zero-padded
    return pd.Series(np.frombuffer(hex_digits, dtype="S16").astype(str).astype(object), index=prepared.index)


def score_frame(*, model: LeadScoringModel, frame: Any, top_k: int | None = None,
                tiers: Sequence[tuple[str, int]] = SCORE_TIERS) -> pd.DataFrame:
    """Score every row; id and snapshot columns are carried over. With `top_k`, add `top_factors`.

    `top_factors` is a list of {"factor", "impact", "feature", "text"} per row whose impacts add up,
    together with the model baseline (`baseline`), to `score`.
    """
    return score_prepared(model=model, prepared=prepare_frame(frame, spec=model.spec), top_k=top_k, tiers=tiers)


def score_prepared(*, model: LeadScoringModel, prepared: pd.DataFrame, top_k: int | None = None,
                   tiers: Sequence[tuple[str, int]] = SCORE_TIERS, probability: Any = None) -> pd.DataFrame:
    """`score_frame` of a frame that went through `prepare_frame` already (coercing twice costs more than
    the model itself on one row); `probability`, when given, is the model's probability of each row."""
    spec = model.spec
    if probability is None:
        probability = predict_probability(model, prepared[spec.columns])
    probability = np.asarray(probability, dtype=float)
    score = to_score(probability)
    keep = [c for c in (*spec.id_columns, spec.date_column) if c and c in prepared.columns]
    out = prepared[keep].copy()
    out["probability"] = probability
    out["score"] = score
    out["tier"] = tier_for(score, tiers=tiers)
    out["model_version"] = model.version
    out["inputs_hash"] = _hash_prepared(prepared, spec=spec)
    if top_k is not None:
        attribution = explain_prepared(model=model, prepared=prepared, probability=probability)
        baseline, _ = attribution.rounded()
        out["baseline"] = baseline
        out["top_factors"] = attribution.top_factors(top_k=top_k)
    return out

"""Vectorised batch scoring: frame → score 0–100, probability, tier, model version and inputs hash per row."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
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
    return pd.Series(hex_hashes(hashed), index=prepared.index)


def hex_hashes(hashed: np.ndarray) -> np.ndarray:
    """uint64 row hashes → 16 hex digits each (object array of str)."""
    hex_digits = hashed.astype(">u8").tobytes().hex().encode()  # one pass, fixed width, zero-padded
    return np.frombuffer(hex_digits, dtype="S16").astype(str).astype(object)


def hash_columns(columns: Sequence[np.ndarray]) -> np.ndarray:
    """`pd.util.hash_pandas_object(frame, index=False)` of a frame with these columns (prepared values, in
    spec order: float64 numbers, text with NaN for missing), on plain arrays and tested equal to it.

    Why: for one real-time row pandas' hashing costs more than the model (a Categorical and an Index per text
    column). The same steps on arrays: float columns hashed together (`hash_array` is elementwise), text
    hashed once per distinct value (as pandas does by categorizing; a missing value hashes to 2**64 - 1),
    then the columns combined as `combine_hash_arrays` does.
    """
    n = len(columns[0])
    numeric = [i for i, values in enumerate(columns) if values.dtype == np.float64]
    hashed: dict[int, np.ndarray] = {}
    if numeric:
        block = pd.util.hash_array(np.concatenate([columns[i] for i in numeric])).reshape(len(numeric), n)
        hashed = dict(zip(numeric, block, strict=True))
    out = np.full(n, 0x345678, dtype=np.uint64)
    mult = np.uint64(1000003)
    for i, values in enumerate(columns):
        inverse = len(columns) - i
        out ^= hashed[i] if i in hashed else np.fromiter((_text_hash(v) for v in values), dtype=np.uint64,
                                                         count=n)
        out *= mult
        mult += np.uint64(82520 + inverse + inverse)
    out += np.uint64(97531)
    return out


@lru_cache(maxsize=4096)
def _text_hash(value: Any) -> int:
    if not isinstance(value, str):
        if pd.isna(value):
            return _MISSING_HASH
        raise TypeError(f"cannot hash {type(value).__name__} as a category")
    return int(pd.util.hash_array(np.array([value], dtype=object), categorize=False)[0])


_MISSING_HASH = 2**64 - 1  # what pandas gives a missing value of a categorized text column


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

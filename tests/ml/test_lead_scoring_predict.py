"""Batch scoring output, tiers and the inputs hash."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import polars as pl

from models.lead_scoring.features import LEAD_FEATURES, prepare_frame
from models.lead_scoring.predict import hash_columns, hex_hashes, inputs_hash, score_frame, tier_for
from models.lead_scoring.train import TrainingResult


def test_score_frame_scores_every_row(trained: TrainingResult) -> None:
    frame = trained.validation.iloc[:500]
    out = score_frame(model=trained.best, frame=frame)
    assert list(out.index) == list(frame.index)
    assert out["prospect_id"].tolist() == frame["prospect_id"].tolist()
    assert out["score"].dtype.kind == "i" and out["score"].between(0, 100).all()
    np.testing.assert_array_equal(out["score"], np.floor(out["probability"] * 100 + 0.5).astype(int))
    np.testing.assert_allclose(out["probability"], trained.best.predict_proba(frame))
    assert out["tier"].tolist() == tier_for(out["score"]).tolist()
    assert set(out.columns) >= {"organization_id", "snapshot_date", "model_version", "inputs_hash"}
    from_polars = score_frame(model=trained.best, frame=pl.from_pandas(frame.reset_index(drop=True)))
    np.testing.assert_array_equal(from_polars["score"], out["score"])


def test_tiers_use_the_seed_cut_points() -> None:
    assert tier_for([0, 25, 26, 50, 51, 75, 76, 100]).tolist() == [
        "low", "low", "warm", "warm", "hot", "hot", "burning", "burning"]


def test_inputs_hash_is_stable_and_sensitive(trained: TrainingResult) -> None:
    frame = trained.validation.iloc[:50]
    hashes = inputs_hash(frame, spec=LEAD_FEATURES)
    assert hashes.str.fullmatch(r"[0-9a-f]{16}").all() and hashes.is_unique
    variant = frame.assign(emails_sent=frame["emails_sent"].astype(int),
                           intent_tier=frame["intent_tier"].astype("category"),
                           prospect_id="someone-else", converted=1).iloc[::-1].iloc[::-1]
    assert inputs_hash(variant, spec=LEAD_FEATURES).tolist() == hashes.tolist()
    changed = frame.copy()
    changed.iloc[3, changed.columns.get_loc("web_sessions")] += 1
    differs = inputs_hash(changed, spec=LEAD_FEATURES) != hashes
    assert differs.tolist() == [i == 3 for i in range(50)]


def test_score_frame_with_factors_adds_up(trained: TrainingResult) -> None:
    model = trained.candidates["logistic_regression"]
    out = score_frame(model=model, frame=trained.validation.iloc[:200], top_k=len(model.spec.groups))
    totals = out["baseline"] + out["top_factors"].map(lambda factors: sum(f["impact"] for f in factors))
    assert (totals == out["score"]).all()
    first = out["top_factors"].iloc[0]
    assert all(abs(a["impact"]) >= abs(b["impact"]) for a, b in pairwise(first))
    assert set(first[0]) == {"factor", "impact", "feature", "text"}
    assert out["model_version"].isna().all()  # not registered yet; the registry test checks the version


def test_row_hashes_on_arrays_are_pandas_hashes(signal_frame) -> None:
    # The real-time path hashes plain arrays; the stored inputs_hash must stay pandas' hash of the prepared row.
    prepared = prepare_frame(signal_frame.iloc[:500].reset_index(drop=True), spec=LEAD_FEATURES)
    rng = np.random.default_rng(2)
    prepared = prepared.mask(pd.DataFrame(rng.random(prepared.shape) < 0.1, columns=prepared.columns))
    prepared[LEAD_FEATURES.numeric] = prepared[LEAD_FEATURES.numeric].astype("float64")
    prepared.loc[::7, "industry"] = "something new"
    prepared.loc[::11, "emails_sent"] = -0.0
    expected = pd.util.hash_pandas_object(prepared[LEAD_FEATURES.columns], index=False).to_numpy()
    columns = [prepared[c].to_numpy() for c in LEAD_FEATURES.columns]
    assert np.array_equal(hash_columns(columns), expected)
    assert list(hex_hashes(hash_columns([c[:1] for c in columns]))) == list(inputs_hash(prepared.iloc[:1],
                                                                                    spec=LEAD_FEATURES))

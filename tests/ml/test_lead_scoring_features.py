"""Feature spec, frame preparation, leakage guard and the synthetic generator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from models.lead_scoring.features import LEAD_FEATURES, LeakageError, assert_no_leakage, prepare_frame
from models.lead_scoring.synthetic import make_feature_frame
from models.lead_scoring.train import train


@pytest.fixture
def small() -> pd.DataFrame:
    return make_feature_frame(n_prospects=50, n_snapshots=3, seed=1)


def test_spec_partitions_columns_into_numeric_and_categorical() -> None:
    numeric, categorical = set(LEAD_FEATURES.numeric), set(LEAD_FEATURES.categorical)
    assert not numeric & categorical
    assert numeric | categorical == set(LEAD_FEATURES.columns)
    assert {"intent_score", "emails_opened", "days_since_last_engagement", "intent_spike"} <= numeric
    assert {"intent_tier", "intent_trend", "title_seniority", "employee_band", "revenue_band"} <= categorical
    assert LEAD_FEATURES.groups["intent"] == ["intent_score", "intent_tier"]
    assert sum(len(cols) for cols in LEAD_FEATURES.groups.values()) == len(LEAD_FEATURES.columns)
    assert LEAD_FEATURES.feature("technology_count").optional


def test_synthetic_frame_is_deterministic_and_consistent(small: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(small, make_feature_frame(n_prospects=50, n_snapshots=3, seed=1))
    assert not small.equals(make_feature_frame(n_prospects=50, n_snapshots=3, seed=2))
    assert len(small) == 150 and small.groupby("prospect_id").size().eq(3).all()
    assert set(LEAD_FEATURES.columns) <= set(small.columns)
    hot = small[small["intent_tier"] == "hot"]["intent_score"]
    assert hot.between(51, 75).all()
    assert set(small["converted"].unique()) <= {0, 1}
    assert_no_leakage(prepare_frame(small))


def test_leakage_guard_refuses_a_feature_observed_after_the_snapshot(small: pd.DataFrame) -> None:
    leaky = small.copy()
    leaky.loc[5, "feature_observed_at"] = leaky.loc[5, "snapshot_date"] + pd.Timedelta(days=1, hours=2)
    with pytest.raises(LeakageError, match="feature_observed_at") as caught:
        assert_no_leakage(leaky)
    assert caught.value.column == "feature_observed_at"
    assert leaky.loc[5, "prospect_id"] in str(caught.value)

    other = small.assign(intent_observed_at=small["snapshot_date"] + pd.Timedelta(days=3))
    with pytest.raises(LeakageError, match="intent_observed_at"):
        assert_no_leakage(other)


def test_leakage_guard_accepts_same_day_and_timezone_aware_observations(small: pd.DataFrame) -> None:
    same_day = small.assign(last_event_at=small["snapshot_date"] + pd.Timedelta(hours=23, minutes=59))
    assert_no_leakage(same_day)
    aware = small.assign(last_event_at=(small["snapshot_date"] + pd.Timedelta(days=2)).dt.tz_localize("UTC"))
    with pytest.raises(LeakageError, match="last_event_at"):
        assert_no_leakage(aware)


def test_leakage_guard_refuses_post_outcome_columns(small: pd.DataFrame) -> None:
    with pytest.raises(LeakageError, match="opportunity_created_at") as caught:
        assert_no_leakage(small.assign(opportunity_created_at=small["snapshot_date"]))
    assert caught.value.column == "opportunity_created_at"
    with pytest.raises(LeakageError, match="Deal_Stage"):
        assert_no_leakage(small.assign(Deal_Stage="won"))


def test_training_refuses_a_leaky_frame(small: pd.DataFrame) -> None:
    leaky = small.assign(feature_observed_at=small["snapshot_date"] + pd.Timedelta(days=7))
    with pytest.raises(LeakageError, match="feature_observed_at"):
        train(leaky)


def test_prepare_frame_coerces_types_and_fills_optional_columns(small: pd.DataFrame) -> None:
    frame = small.drop(columns=["technology_count"]).assign(
        emails_sent=small["emails_sent"].astype(int), intent_tier=small["intent_tier"].astype("category"))
    prepared = prepare_frame(frame)
    assert prepared["technology_count"].isna().all()
    assert prepared["emails_sent"].dtype == np.float64
    assert prepared["intent_tier"].dtype == object
    assert prepared["intent_tier"].tolist() == small["intent_tier"].tolist()
    assert "technology_count" not in frame.columns  # the caller's frame is untouched
    from_polars = prepare_frame(pl.from_pandas(small))
    assert from_polars[LEAD_FEATURES.columns].equals(prepare_frame(small)[LEAD_FEATURES.columns])
    with pytest.raises(ValueError, match="intent_score"):
        prepare_frame(small.drop(columns=["intent_score"]))

"""Shared fixtures for the lead-scoring library tests: a planted-signal frame and models trained once."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from models.lead_scoring.synthetic import make_feature_frame
from models.lead_scoring.train import TrainingResult, train


@pytest.fixture(scope="module", autouse=True)
def _single_openmp_thread() -> Iterator[None]:
    # Test workers share two cores with other suites; OpenMP spin-waiting under oversubscription makes
    # gradient-boosting prediction ten times slower, while one thread per worker stays predictable.
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="session")
def signal_frame() -> pd.DataFrame:
    return make_feature_frame(n_prospects=4000, n_snapshots=6, seed=7)


@pytest.fixture(scope="session")
def trained(signal_frame: pd.DataFrame) -> TrainingResult:
    return train(signal_frame, seed=0)

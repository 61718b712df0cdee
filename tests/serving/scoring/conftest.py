"""A small trained model, registered as a tenant's champion through the Postgres registry store."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from models.lead_scoring.synthetic import make_feature_frame
from models.lead_scoring.train import TrainingResult, train
from serving.core.db import engine_for
from serving.scoring import model_cache
from serving.scoring.registry_store import organization_registry


@pytest.fixture(scope="session", autouse=True)
def _one_openmp_thread() -> Iterator[None]:
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="session")
def trained_model() -> TrainingResult:
    frame = make_feature_frame(n_prospects=800, n_snapshots=6, seed=11)
    return train(frame, seed=0, families=("logistic_regression",))


@pytest.fixture
def register_versions(settings, trained_model) -> Callable:
    """`register_versions(tenant, n)`: n versions of the model; v1 becomes champion."""

    def _register(tenant, n: int = 2) -> list[str]:
        versions = []
        with Session(engine_for(settings.owner_database_url)) as session, session.begin():
            registry = organization_registry(session, tenant.organization_id, home=settings.home)
            for _ in range(n):
                versions.append(registry.register(trained_model.best).version)
        return versions

    yield _register
    model_cache.clear()

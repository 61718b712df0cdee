"""Shared fixtures: a real embedded PostgreSQL, the app on the non-owner role, tenants with users."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from serving.core.config import APP_ROLE, Settings
from serving.core.db import engine_for
from serving.main import create_app
from tests.factories import Tenant, make_tenant
from tests.pg import TestPostgres, as_role

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
TEST_JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-signing"


def _worker(config) -> str:
    return getattr(config, "workerinput", {}).get("workerid", "main")


def pytest_configure(config) -> None:
    # The session's explicit dbt prepare step, once, before any worker collects a module that loads the
    # Dagster Definitions (they only read the manifest). xdist workers inherit it from the controller.
    if not hasattr(config, "workerinput"):
        from pipelines.defs.dbt.project import prepare_manifest

        prepare_manifest()


@pytest.fixture(scope="session")
def state_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="revorc-test-") as path:
        yield Path(path)


@pytest.fixture(scope="session")
def pg(request, state_dir) -> Iterator[TestPostgres]:
    # A private server per test session, so concurrent sessions never share (or stop) one; its data directory
    # (~100-200 MB) goes with it, or a day of test runs fills the disk.
    root = Path(tempfile.mkdtemp(prefix="revorc-pg-"))
    server = TestPostgres(root, _worker(request.config))
    try:
        yield server
    finally:
        server.close()
        shutil.rmtree(root, ignore_errors=True)


def make_settings(owner_url: str, state_dir: Path, **overrides) -> Settings:
    values = {
        "REVORC_ENV": "test",
        "REVORC_HOME": str(state_dir),
        "DATABASE_URL": owner_url,
        "APP_DATABASE_URL": as_role(owner_url, APP_ROLE),
        "JWT_SECRET": TEST_JWT_SECRET,
        "RATE_LIMIT_AUTH": "10000/minute",
        "RATE_LIMIT_GENERAL": "100000/hour",
        "DB_POOL_SIZE": 4,
        # Test tenants are free-plan organizations that hold far more than 100 prospects; the plan limits have
        # their own tests (tests/serving/billing), which turn this on.
        "PLAN_LIMITS_ENABLED": False,
        # No real DNS in tests (the machine's resolver may answer anything); the enrichment MX check has its own
        # tests against a local DNS server (tests/serving/enrichment/test_mx_and_cache.py), which turn this on.
        "ENRICHMENT_VERIFY_MX": False,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def database(pg) -> str:
    """One migrated database shared by the API tests; each test isolates itself in its own tenants."""
    return pg.url(pg.clone(f"revorc_shared_{pg.worker}"))


@pytest.fixture(scope="session")
def settings(database, state_dir) -> Settings:
    return make_settings(database, state_dir)


@pytest.fixture(scope="session")
def app(settings):
    return create_app(settings)


@pytest.fixture(scope="session")
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def typesense_server(state_dir, pg) -> Iterator[tuple[str, str]]:
    """A real Typesense (the embedded server binary) for this test session, started when first asked for."""
    from revorc.services import ephemeral_port, start_typesense, stop_pid

    home = state_dir / f"typesense-{pg.worker}"
    home.mkdir(parents=True, exist_ok=True)
    url, key, pid = start_typesense(home, port=ephemeral_port())
    yield url, key
    stop_pid(pid)


@pytest.fixture
def owner_session(settings) -> Iterator[Session]:
    """Owner connection (bypasses row-level security) for setting up and checking data."""
    with Session(engine_for(settings.owner_database_url)) as session:
        yield session


@pytest.fixture
def tenant(settings) -> Tenant:
    return make_tenant(settings)


@pytest.fixture
def other_tenant(settings) -> Tenant:
    return make_tenant(settings)


@pytest.fixture
def fresh_database(pg) -> Iterator[str]:
    """An empty, migrated database of its own (for tests that count whole tables)."""
    name = pg.clone()
    yield pg.url(name)
    pg.drop(name)

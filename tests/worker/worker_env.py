"""The environment a real worker subprocess runs with in the worker tests: the test database, the app role and
the test JWT secret, this checkout on the path; each test adds its own backend settings."""

from __future__ import annotations

import os
from pathlib import Path

from serving.core.config import APP_ROLE
from tests.conftest import TEST_JWT_SECRET
from tests.pg import as_role

ROOT = Path(__file__).resolve().parents[2]


def worker_env(database: str, home: Path, **settings: str) -> dict[str, str]:
    return {
        **os.environ,
        "REVORC_ENV": "test",
        "REVORC_HOME": str(home),
        "DATABASE_URL": database,
        "APP_DATABASE_URL": as_role(database, APP_ROLE),
        "JWT_SECRET": TEST_JWT_SECRET,
        "EMAIL_BACKEND": "outbox",
        "PYTHONPATH": str(ROOT),
        **settings,
    }

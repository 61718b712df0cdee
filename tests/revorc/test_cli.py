"""The `revorc` command line against a real, initially empty database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from revorc.cli import app as cli
from serving.core.config import RUNTIME_FILE, get_settings
from serving.main import create_app
from tests.conftest import make_settings

runner = CliRunner()


@pytest.fixture
def empty_database(pg) -> Iterator[str]:
    name = f"cli_{pg.worker}_{uuid.uuid4().hex[:8]}"
    pg._recreate(name)
    yield pg.url(name)
    pg.drop(name)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Iterator[Path]:
    """A private REVORC_HOME; settings are re-read from the environment around each test."""
    for name in ("DATABASE_URL", "APP_DATABASE_URL", "TYPESENSE_URL", "TYPESENSE_API_KEY", "JWT_SECRET",
                 "REVORC_ADMIN_PASSWORD", "REVORC_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REVORC_HOME", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def database(home, empty_database, monkeypatch) -> str:
    monkeypatch.setenv("DATABASE_URL", empty_database)
    get_settings.cache_clear()
    return empty_database


@pytest.fixture
def migrated(database) -> str:
    result = runner.invoke(cli, ["migrate"])
    assert result.exit_code == 0, result.output
    return database


def invoke(*args: str, **kwargs):
    return runner.invoke(cli, list(args), **kwargs)


def row_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = conn.scalars(text("select tablename from pg_tables where schemaname = 'app' order by 1"))
            return {t: conn.scalar(text(f'select count(*) from app."{t}"')) for t in tables}
    finally:
        engine.dispose()


def test_migrate_creates_the_schema_and_is_repeatable(database):
    assert row_counts(database) == {}
    first = invoke("migrate")
    assert first.exit_code == 0, first.output
    assert "up to date" in first.output
    counts = row_counts(database)
    assert {"organizations", "users", "prospects", "api_keys"} <= set(counts)
    assert set(counts.values()) == {0}
    assert invoke("migrate").exit_code == 0
    assert row_counts(database) == counts


def test_create_org_then_login_through_the_api(migrated, home):
    result = invoke("create-org", "Initech", "--admin-email", "Boss@Initech.example",
                    "--admin-password", "tps-reports-2024", "--admin-name", "Bill Lumbergh")
    assert result.exit_code == 0, result.output
    assert "Initech" in result.output and "boss@initech.example" in result.output
    with TestClient(create_app(make_settings(migrated, home))) as client:
        login = client.post("/api/v1/auth/login", json={"email": "boss@initech.example",
                                                        "password": "tps-reports-2024"})
        assert login.status_code == 200, login.text
        user = login.json()["user"]
        assert user["role"] == "admin" and user["fullName"] == "Bill Lumbergh"
        me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {login.json()['accessToken']}"})
        assert me.json()["email"] == "boss@initech.example"
    counts = row_counts(migrated)
    assert (counts["organizations"], counts["teams"], counts["users"], counts["profiles"]) == (1, 1, 1, 1)


def test_create_org_rejects_a_duplicate_email(migrated):
    first = invoke("create-org", "First", "--admin-email", "a@b.co", "--admin-password", "long-enough-1")
    assert first.exit_code == 0, first.output
    result = invoke("create-org", "Second", "--admin-email", "A@B.co", "--admin-password", "long-enough-2")
    assert result.exit_code != 0
    assert "already exists" in result.output and "a@b.co" in result.output
    assert "Traceback" not in result.output
    counts = row_counts(migrated)
    assert (counts["organizations"], counts["users"]) == (1, 1)  # nothing half-created


def test_create_org_rejects_a_short_password(migrated):
    result = invoke("create-org", "Shorty", "--admin-email", "s@b.co", "--admin-password", "short")
    assert result.exit_code != 0
    assert "at least 8 characters" in result.output
    assert row_counts(migrated)["organizations"] == 0


def test_create_org_password_from_environment_or_prompt(migrated, home, monkeypatch):
    monkeypatch.setenv("REVORC_ADMIN_PASSWORD", "from-the-environment")
    assert invoke("create-org", "EnvCo", "--admin-email", "env@b.co").exit_code == 0
    monkeypatch.delenv("REVORC_ADMIN_PASSWORD")
    prompted = invoke("create-org", "PromptCo", "--admin-email", "prompt@b.co",
                      input="typed-at-the-prompt\ntyped-at-the-prompt\n")
    assert prompted.exit_code == 0, prompted.output
    with TestClient(create_app(make_settings(migrated, home))) as client:
        for email, password in (("env@b.co", "from-the-environment"), ("prompt@b.co", "typed-at-the-prompt")):
            login = client.post("/api/v1/auth/login", json={"email": email, "password": password})
            assert login.status_code == 200, email


def test_seed_demo_is_idempotent_and_prints_the_logins(migrated, home):
    first = invoke("seed-demo", "--prospects", "40")
    assert first.exit_code == 0, first.output
    assert "Demo data loaded" in first.output
    for login in ("admin@demo.revorc.dev", "rep@demo.revorc.dev", "viewer@demo.revorc.dev",
                  "demo-admin-pass"):
        assert login in first.output
    counts = row_counts(migrated)
    assert counts["prospects"] == 40 and counts["users"] == 3 and counts["accounts"] >= 10
    assert counts["activities"] > 0
    second = invoke("seed-demo", "--prospects", "40")
    assert second.exit_code == 0, second.output
    assert "already exists" in second.output and "rep@demo.revorc.dev" in second.output
    assert row_counts(migrated) == counts
    with TestClient(create_app(make_settings(migrated, home))) as client:
        login = client.post("/api/v1/auth/login",
                            json={"email": "rep@demo.revorc.dev", "password": "demo-rep-pass"})
        headers = {"Authorization": f"Bearer {login.json()['accessToken']}"}
        listed = client.get("/api/v1/prospects", headers=headers).json()
        assert listed["pagination"]["total"] == 40


def test_seed_demo_refuses_production(migrated, monkeypatch):
    monkeypatch.setenv("REVORC_ENV", "production")
    monkeypatch.setenv("JWT_SECRET", "p" * 40)
    get_settings.cache_clear()
    result = invoke("seed-demo", "--prospects", "5")
    assert result.exit_code != 0
    assert "production" in result.output
    assert row_counts(migrated)["organizations"] == 0


def test_env_prints_exports(database, home):
    result = invoke("env")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert f"export REVORC_HOME={home.resolve()}" in lines
    database_line = next(line for line in lines if line.startswith("export DATABASE_URL="))
    assert database_line.startswith("export DATABASE_URL=") and "postgresql://" in database_line
    assert "+psycopg" not in database_line
    assert not any(line.startswith("export TYPESENSE") for line in lines)


def test_env_reads_the_running_services_from_the_runtime_file(home):
    (home / RUNTIME_FILE).write_text(json.dumps({
        "database_url": "postgresql+psycopg://revorc@/revorc?host=/tmp/some dir",
        "typesense_url": "http://127.0.0.1:8108", "typesense_api_key": "ts-key",
    }))
    result = invoke("env")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    # %-escaped as libpq reads it: psql and psycopg refuse a raw space, and would read '+' as a plus sign
    assert "export DATABASE_URL='postgresql://revorc@/revorc?host=%2Ftmp%2Fsome%20dir'" in lines
    assert "export TYPESENSE_URL=http://127.0.0.1:8108" in lines
    assert "export TYPESENSE_API_KEY=ts-key" in lines


def test_env_without_services_says_what_to_do(home):
    result = invoke("env")
    assert result.exit_code != 0
    assert "revorc services" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args, message", [
    (["Typo Inc", "--admin-email", "admin-at-typo.example"], "not a valid e-mail address"),
    (["   ", "--admin-email", "blank@b.co"], "needs a name"),
])
def test_create_org_rejects_bad_input_cleanly(migrated, args, message):
    result = invoke("create-org", *args, "--admin-password", "long-enough-pw")
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    assert row_counts(migrated)["organizations"] == 0


@pytest.mark.parametrize("args", [["materialize"], ["migrate"]])
def test_commands_without_a_database_fail_with_one_clear_line(tmp_path, args):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "APP_DATABASE_URL")}
    env.update(REVORC_HOME=str(tmp_path), REVORC_ENV="test", JWT_SECRET="x" * 40)
    result = subprocess.run([sys.executable, "-m", "revorc.cli", *args], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    output = " ".join(result.stdout.split())  # rich wraps long lines
    assert "No database configured" in output and "revorc services" in output
    assert "Traceback" not in result.stdout + result.stderr


def test_an_unknown_benchmark_is_named_with_the_choices(tmp_path):
    env = {**os.environ, "REVORC_HOME": str(tmp_path), "REVORC_ENV": "test", "JWT_SECRET": "x" * 40}
    result = subprocess.run([sys.executable, "-m", "revorc.cli", "bench", "api", "warp-drive"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    output = " ".join((result.stdout + result.stderr).split())
    assert "unknown benchmark(s) warp-drive" in output and "outreach" in output
    assert "Traceback" not in output


def test_an_unreachable_database_is_one_clear_line(tmp_path):
    env = {**os.environ, "REVORC_HOME": str(tmp_path), "REVORC_ENV": "test", "JWT_SECRET": "x" * 40,
           "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/nothing"}
    env.pop("APP_DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "revorc.cli", "migrate"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert "cannot reach the database" in " ".join(result.stdout.split())
    assert "Traceback" not in result.stdout + result.stderr

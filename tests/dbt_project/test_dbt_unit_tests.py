"""The dbt unit tests (the `unit_tests:` of dbt_project/models) run against the session's Postgres and all pass.

`dbt build` in the graph test runs them too, but only as part of a whole materialization that fails without
saying which rule broke; here a broken rule names itself, and a unit test that silently stops running counts.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from pipelines.defs.dbt.project import DBT_PROJECT_DIR, dbt_env, dbt_executable

# The rule tests of today (forecast bands, deal risk, enrichment waterfall and profile, intent attribution,
# decay/expiry, tiers, trend and spike, identity map, sessions, stage intervals and conversion, pipeline metrics,
# forecast accuracy, account health, email engagement and send times, lead labels and feature bands): fewer means
# some were dropped or are no longer selected.
MIN_UNIT_TESTS = 20


def _dbt(args: list[str], *, env: dict[str, str], target: str) -> subprocess.CompletedProcess:
    return subprocess.run([dbt_executable(), *args, "--target-path", target], cwd=DBT_PROJECT_DIR, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def unit_test_results(pg, tmp_path_factory):
    name = pg.clone()
    work = tmp_path_factory.mktemp("dbt_unit")
    # a private target and log folder: the shared manifest under dbt_project/target stays untouched
    env = {**os.environ, **dbt_env(pg.url(name)), "DBT_LOG_PATH": str(work / "logs"), "REVORC_DBT_THREADS": "2"}
    try:
        # Unit tests read the column types of their inputs from the database: build every model first (over the
        # fresh clone's empty tables, so it is quick).
        built = _dbt(["build", "--exclude", "test_type:unit", "test_type:data"], env=env, target=str(work / "build"))
        assert built.returncode == 0, built.stdout[-3000:]
        ran = _dbt(["test", "--select", "test_type:unit"], env=env, target=str(work / "unit"))
        results = json.loads((work / "unit" / "run_results.json").read_text())["results"]
        yield ran, results
    finally:
        pg.drop(name)


def test_every_dbt_unit_test_passes(unit_test_results):
    ran, results = unit_test_results
    units = {r["unique_id"]: r["status"] for r in results if r["unique_id"].startswith("unit_test.")}
    failed = {uid: status for uid, status in units.items() if status != "pass"}
    assert not failed, (failed, ran.stdout[-4000:])
    assert ran.returncode == 0, ran.stdout[-4000:]
    assert len(units) >= MIN_UNIT_TESTS, sorted(units)

"""The data layer's standing rules, checked on the dbt manifest so a new model cannot skip them: every intermediate
has a `unique` test on its key, and every mart that the API, ML, reverse-ETL or a dashboard page reads has an
enforced contract with every column typed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipelines.defs.dbt.project import dbt_project

ROOT = Path(__file__).resolve().parents[2]
# Where marts are read for their content. dashboards/data/data_health.py only counts every mart's rows.
READERS = [*ROOT.glob("serving/**/*.py"), *ROOT.glob("pipelines/**/*.py"), *ROOT.glob("models/**/*.py"),
           *(p for p in ROOT.glob("dashboards/**/*.py") if p.name != "data_health.py")]


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(dbt_project.manifest_path.read_text())


def _models(manifest: dict, layer: str) -> dict[str, dict]:
    return {n["name"]: n for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and n["fqn"][1] == layer}


def test_every_intermediate_has_a_unique_key_test(manifest):
    intermediates = _models(manifest, "intermediate")
    unique_tested = {n["attached_node"] for n in manifest["nodes"].values()
                     if n["resource_type"] == "test" and (n.get("test_metadata") or {}).get("name") == "unique"}
    missing = sorted(name for name, node in intermediates.items() if node["unique_id"] not in unique_tested)
    assert len(intermediates) >= 10 and missing == []


def test_every_mart_read_by_code_has_an_enforced_contract(manifest):
    source = "\n".join(p.read_text() for p in READERS)
    read = {name: node for name, node in _models(manifest, "marts").items()
            if re.search(rf"\b{re.escape(name)}\b", source)}
    uncontracted = sorted(name for name, node in read.items() if not node["config"]["contract"]["enforced"])
    untyped = sorted(f"{name}.{column}" for name, node in read.items()
                     for column, spec in node["columns"].items() if not spec.get("data_type"))
    # the dashboards' pages, reverse-ETL and ML read at least these (issue 11 named the first four)
    assert {"agg_activity_daily", "dim_account_health", "fct_forecast_accuracy", "intent_score_history",
            "ml_lead_features", "fct_deal_health"} <= set(read)
    assert (uncontracted, untyped) == ([], [])


def test_only_data_tests_are_tagged_nightly_and_the_hourly_job_is_the_one_that_skips_them(manifest):
    """`nightly` marks data tests the hourly job leaves out (full scans of the largest tables); the nightly full
    rebuild and every other build run them, so a tagged test is deferred, never dropped. A model or seed tagged
    `nightly` would silently stop being built hourly."""
    from pipelines.defs.dbt.assets import HOURLY_JOB
    from pipelines.defs.dbt.project import HOURLY_BUILD_EXCLUDES, NIGHTLY_TESTS
    from pipelines.defs.ingest.schedules import hourly_job

    tagged = {n["unique_id"]: n["resource_type"] for n in manifest["nodes"].values() if "nightly" in n["tags"]}
    assert tagged and set(tagged.values()) == {"test"}
    assert hourly_job.name == HOURLY_JOB and NIGHTLY_TESTS == "tag:nightly"
    # models and seeds are never left out of the hourly build, only tests
    assert HOURLY_BUILD_EXCLUDES == ("--exclude", NIGHTLY_TESTS, "--exclude-resource-type", "unit_test")

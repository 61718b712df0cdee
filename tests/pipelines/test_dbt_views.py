"""The hourly dbt build leaves out a view only when a build recorded it in this database with the same definition,
it exists, it bakes in no variable, and nothing it reads is recreated in the same build; the record forgets what
failed, and belongs to one database (a recreated one of the same name starts without)."""

from __future__ import annotations

import copy
import json

import psycopg
import pytest

from pipelines.defs.dbt.project import HOURLY_BUILD_EXCLUDES, NIGHTLY_TESTS, dbt_project, hourly_build_args
from pipelines.defs.dbt.views import (
    ViewRecord,
    database_key,
    existing_relations,
    fingerprints,
    recorded_after,
    views_to_leave_out,
)
from serving.core.db import libpq_url

# the views whose SQL reads the as-of date (`as_of_date()` reads a variable and the environment)
AS_OF_VIEWS = {"int_deals__stage_intervals", "int_deals__risk_inputs"}


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(dbt_project.manifest_path.read_text())


def _views(manifest: dict) -> dict[str, str]:
    return {node["name"]: uid for uid, node in manifest["nodes"].items()
            if node["resource_type"] == "model" and node["config"]["materialized"] == "view"}


def _everything(manifest: dict) -> set[str]:
    return {node["relation_name"] for node in manifest["nodes"].values() if node.get("relation_name")}


def _children(manifest: dict, uid: str) -> set[str]:
    """Names of the views built on `uid`, directly or through other views."""
    views = set(_views(manifest).values())
    found, todo = set(), [uid]
    while todo:
        parent = todo.pop()
        for child, node in manifest["nodes"].items():
            if child in views and parent in node["depends_on"].get("nodes", []) and child not in found:
                found.add(child)
                todo.append(child)
    return {manifest["nodes"][c]["name"] for c in found}


def test_nothing_is_left_out_without_a_record(manifest):
    assert views_to_leave_out(manifest, recorded={}, existing=_everything(manifest)) == []


def test_recorded_current_views_are_left_out_except_those_reading_variables(manifest):
    left_out = set(views_to_leave_out(manifest, recorded=fingerprints(manifest), existing=_everything(manifest)))
    views = set(_views(manifest))
    rebuilt = AS_OF_VIEWS | {v for name in AS_OF_VIEWS for v in _children(manifest, _views(manifest)[name])}
    assert left_out == views - rebuilt
    assert len(left_out) >= 35  # most of the project's views: the point of it


def test_a_changed_view_is_rebuilt_with_the_views_built_on_it(manifest):
    changed = copy.deepcopy(manifest)
    uid = _views(manifest)["stg_app__teams"]
    changed["nodes"][uid]["checksum"]["checksum"] = "edited"
    left_out = set(views_to_leave_out(changed, recorded=fingerprints(manifest), existing=_everything(manifest)))
    dependants = _children(manifest, uid)
    assert {"dim_teams", "dim_users", "dim_deals"} <= dependants
    assert not ({"stg_app__teams"} | dependants) & left_out
    assert "stg_app__accounts" in left_out


def test_a_missing_view_is_rebuilt_with_the_views_built_on_it(manifest):
    uid = _views(manifest)["dim_accounts"]
    existing = _everything(manifest) - {manifest["nodes"][uid]["relation_name"]}
    left_out = set(views_to_leave_out(manifest, recorded=fingerprints(manifest), existing=existing))
    assert not ({"dim_accounts"} | _children(manifest, uid)) & left_out
    assert {"dim_prospects", "dim_deals"} <= _children(manifest, uid)


def test_a_changed_seed_rebuilds_the_views_reading_it(manifest):
    recorded = fingerprints(manifest) | {"seed.revorc.enrichment_provider_priority": "before"}
    left_out = views_to_leave_out(manifest, recorded=recorded, existing=_everything(manifest))
    assert "int_enrichment__fields_ranked" not in left_out and "stg_app__accounts" in left_out


def test_a_changed_macro_rebuilds_every_view(manifest):
    changed = copy.deepcopy(manifest)
    changed["macros"]["macro.revorc.surrogate_key"]["macro_sql"] += "\n"
    assert views_to_leave_out(changed, recorded=fingerprints(manifest), existing=_everything(manifest)) == []


def test_a_view_built_on_a_table_model_is_rebuilt_with_it(manifest):
    """No view reads a table model today; one that did would be dropped with the table's old relation."""
    changed = copy.deepcopy(manifest)
    uid = _views(manifest)["dim_ml_models"]
    changed["nodes"][uid]["depends_on"]["nodes"].append("model.revorc.fct_deal_health")
    left_out = views_to_leave_out(changed, recorded=fingerprints(changed), existing=_everything(manifest))
    assert "dim_ml_models" not in left_out and "dim_cadences" in left_out


def test_the_record_keeps_what_was_built_or_not_run_and_forgets_failures(manifest):
    views = _views(manifest)
    current = fingerprints(manifest)
    results = {"results": [{"unique_id": views["dim_teams"], "status": "success"},
                           {"unique_id": views["dim_users"], "status": "error"},
                           {"unique_id": views["dim_deals"], "status": "skipped"}]}
    before = {views[name]: current[views[name]] for name in ("dim_accounts", "dim_users", "dim_deals")}
    before[views["dim_cadences"]] = "stale"  # its definition changed since: not current any more
    record = recorded_after(manifest, results, before=before)
    assert record == {views["dim_teams"]: current[views["dim_teams"]],
                      views["dim_accounts"]: current[views["dim_accounts"]]}


def test_a_build_of_a_few_models_keeps_the_record_of_the_others(manifest):
    """The freshness micro-batch builds nine tables and no view: the next hourly build still leaves views out."""
    results = {"results": [{"unique_id": "model.revorc.fct_prospect_intent", "status": "success"}]}
    record = recorded_after(manifest, results, before=fingerprints(manifest))
    assert views_to_leave_out(manifest, recorded=record, existing=_everything(manifest)) == views_to_leave_out(
        manifest, recorded=fingerprints(manifest), existing=_everything(manifest))


def test_the_hourly_arguments_are_one_exclude_list():
    assert hourly_build_args() == list(HOURLY_BUILD_EXCLUDES)
    assert hourly_build_args(["dim_teams", "dim_users"]) == [
        "--exclude", NIGHTLY_TESTS, "dim_teams", "dim_users", "--exclude-resource-type", "unit_test"]


def test_the_record_belongs_to_one_database(pg, tmp_path):
    name = pg.clone("revorc_view_record")
    try:
        with psycopg.connect(libpq_url(pg.url(name))) as conn:
            first = database_key(conn)
            record = ViewRecord(conn, tmp_path)
            assert '"revorc_view_record"."raw"."email_events"' in existing_relations(conn)
        record.update({"metadata": {}, "macros": {}, "nodes": {}}, {"results": []})
        assert record.path.exists()
    finally:
        pg.drop(name)
    name = pg.clone("revorc_view_record")
    try:
        with psycopg.connect(libpq_url(pg.url(name))) as conn:
            assert database_key(conn) != first
            assert ViewRecord(conn, tmp_path).before == {}
    finally:
        pg.drop(name)

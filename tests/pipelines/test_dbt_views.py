"""The hourly dbt build leaves out a view only when a build recorded it in this database with the same definition,
it exists, it bakes in no variable, and nothing it reads is recreated in the same build; the record forgets what
failed, and belongs to one database (a recreated one of the same name starts without)."""

from __future__ import annotations

import copy
import json
import uuid

import psycopg
import pytest

from pipelines.defs.dbt.project import HOURLY_BUILD_EXCLUDES, NIGHTLY_TESTS, dbt_project, hourly_build_args
from pipelines.defs.dbt.views import (
    ViewRecord,
    build_variables,
    data_versions,
    database_key,
    existing_relations,
    fingerprints,
    recorded_after,
    table_fingerprints,
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


# -- tables and seeds whose inputs did not change -------------------------------------------------------------------

def _tables(manifest: dict) -> dict[str, str]:
    return {node["name"]: uid for uid, node in manifest["nodes"].items()
            if node["resource_type"] == "model" and node["config"]["materialized"] in ("table", "incremental")}


def _versions(manifest: dict, **changed: str) -> dict[str, str]:
    """A data version per source (`changed`: source table name → another version)."""
    return {uid: changed.get(source["name"], "1:1") for uid, source in manifest["sources"].items()}


def _all_recorded(manifest: dict, versions: dict[str, str], variables: str = "2026-01-31/p") -> dict[str, str]:
    return fingerprints(manifest) | table_fingerprints(manifest, data_versions=versions, variables=variables)


def _left_out(manifest: dict, recorded: dict[str, str], versions: dict[str, str],
              variables: str = "2026-01-31/p") -> set[str]:
    return set(views_to_leave_out(manifest, recorded=recorded, existing=_everything(manifest),
                                  tables=table_fingerprints(manifest, data_versions=versions, variables=variables)))


def test_tables_and_seeds_with_unchanged_inputs_are_left_out_with_every_view(manifest):
    versions = _versions(manifest)
    left_out = _left_out(manifest, _all_recorded(manifest, versions), versions)
    assert set(_tables(manifest)) <= left_out and "enrichment_provider_priority" in left_out
    assert set(_views(manifest)) - AS_OF_VIEWS - {v for name in AS_OF_VIEWS for v in
                                                  _children(manifest, _views(manifest)[name])} <= left_out
    # without table fingerprints (a build that did not read the data versions) only views are left out, as before
    assert set(views_to_leave_out(manifest, recorded=_all_recorded(manifest, versions),
                                  existing=_everything(manifest))) <= set(_views(manifest))


def test_a_changed_source_rebuilds_the_tables_reading_it_and_the_tables_built_on_them(manifest):
    versions = _versions(manifest)
    recorded = _all_recorded(manifest, versions)
    left_out = _left_out(manifest, recorded, _versions(manifest, intent_signals="2:7"))
    rebuilt = set(_tables(manifest)) - left_out
    # read through views (stg_raw__intent_signals), then table on table down the chain
    assert {"int_intent__entity_signals", "int_intent__daily_points", "intent_score_history",
            "int_intent__entity_scores", "fct_prospect_intent", "fct_account_intent", "ml_lead_features"} <= rebuilt
    assert {"agg_activity_daily", "fct_forecast", "agg_search_daily", "fct_email_events"} <= left_out
    # an update that keeps the row count: the rows' transactions differ, and so does the version
    assert _left_out(manifest, recorded, _versions(manifest, deals="1:2")) & {"fct_deal_health", "fct_forecast"} \
        == set()


def test_a_new_as_of_date_rebuilds_the_tables_that_read_it(manifest):
    versions = _versions(manifest)
    recorded = _all_recorded(manifest, versions)
    left_out = _left_out(manifest, recorded, versions, variables="2026-02-01/p")
    assert "int_intent__daily_points" not in left_out and "fct_deal_stage_durations" not in left_out
    assert "dim_search_popular_queries" in left_out or "agg_search_queries" in left_out


def test_a_missing_or_unrecorded_table_is_rebuilt_and_so_are_the_tables_built_on_it(manifest):
    versions = _versions(manifest)
    tables = _tables(manifest)
    uid = tables["int_intent__entity_signals"]
    recorded = _all_recorded(manifest, versions)
    existing = _everything(manifest) - {manifest["nodes"][uid]["relation_name"]}
    left_out = set(views_to_leave_out(manifest, recorded=recorded, existing=existing,
                                      tables=table_fingerprints(manifest, data_versions=versions,
                                                                variables="2026-01-31/p")))
    assert not {"int_intent__entity_signals", "int_intent__daily_points", "fct_prospect_intent"} & left_out
    assert "fct_email_events" in left_out
    del recorded[tables["fct_forecast"]]
    assert "fct_forecast" not in _left_out(manifest, recorded, versions)
    # a source whose version could not be read is changed on every build
    unknown = {k: v for k, v in versions.items() if not k.endswith(".deals")}
    assert "fct_deal_health" not in _left_out(manifest, _all_recorded(manifest, unknown), unknown)


def test_the_record_keeps_the_tables_fingerprints_read_before_the_build(manifest):
    versions = _versions(manifest)
    tables = table_fingerprints(manifest, data_versions=versions, variables="2026-01-31/p")
    uid = _tables(manifest)["fct_forecast"]
    failed = _tables(manifest)["fct_deal_health"]
    results = {"results": [{"unique_id": uid, "status": "success"}, {"unique_id": failed, "status": "error"}]}
    record = recorded_after(manifest, results, before={}, tables=tables)
    assert record[uid] == tables[uid] and failed not in record


def test_data_versions_change_with_every_committed_write(pg, tmp_path, manifest):
    name = pg.clone("revorc_data_versions")
    try:
        with psycopg.connect(libpq_url(pg.url(name)), autocommit=True) as conn:
            existing = existing_relations(conn)
            uid = next(u for u, s in manifest["sources"].items() if s["name"] == "teams")
            org = conn.execute("insert into app.organizations (id, name, slug) values (gen_random_uuid(), 'V', %s)"
                               " returning id", (f"v-{uuid.uuid4().hex[:8]}",)).fetchone()[0]
            seen = [data_versions(conn, manifest, existing)[uid]]
            team = conn.execute("insert into app.teams (id, organization_id, name) values (gen_random_uuid(), %s, 'a')"
                                " returning id", (org,)).fetchone()[0]
            seen.append(data_versions(conn, manifest, existing)[uid])
            conn.execute("update app.teams set name = 'b' where id = %s", (team,))  # same count, new version
            seen.append(data_versions(conn, manifest, existing)[uid])
            assert data_versions(conn, manifest, existing)[uid] == seen[-1]  # nothing written: the same
            conn.execute("delete from app.teams where id = %s", (team,))
            seen.append(data_versions(conn, manifest, existing)[uid])
            assert len(set(seen[:3])) == 3 and seen[3] != seen[2]
            assert seen[3] == seen[0]  # the same rows as at first: nothing to rebuild
            record = ViewRecord(conn, tmp_path, manifest=manifest, as_of="2026-01-31")
            assert record.tables == table_fingerprints(manifest, data_versions=data_versions(conn, manifest, existing),
                                                       variables=build_variables(conn, "2026-01-31"))
    finally:
        pg.drop(name)

"""The reverse-ETL checks pass after a real write-back and fail when `app` drifts from the mart."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import dagster as dg
import psycopg
import pytest

from pipelines.definitions import ASSETS, resources
from pipelines.defs.reverse_etl.checks import reverse_etl_checks
from pipelines.ingest.ledger import psycopg_conninfo
from pipelines.reverse_etl import TARGETS, audit
from tests.conftest import make_settings
from tests.factories import make_tenant

pytestmark = pytest.mark.slow
REVERSE_ETL = [dg.AssetKey(["reverse_etl", t.name]) for t in TARGETS]
CHECK_NAMES = sorted(f"{t.name}_{kind}" for t in TARGETS for kind in ("in_step_with_mart", "rows_per_organization"))


def _crm(conn, tenant) -> dict[str, uuid.UUID]:
    ids = {"account": uuid.uuid4(), "prospect": uuid.uuid4(), "deal": uuid.uuid4()}
    org = tenant.organization_id
    conn.execute("insert into app.accounts (id, organization_id, name, domain) values (%s, %s, 'Acme', %s)",
                 (ids["account"], org, f"{ids['account'].hex[:8]}.test"))
    conn.execute("insert into app.prospects (id, organization_id, account_id, email) values (%s, %s, %s, %s)",
                 (ids["prospect"], org, ids["account"], f"{ids['prospect'].hex[:8]}@acme.test"))
    conn.execute("insert into app.deals (id, organization_id, team_id, owner_id, account_id, name, amount,"
                 " probability, stage, forecast_category, close_date) values (%s, %s, %s, %s, %s, 'Deal', 1000, 10,"
                 " 'discovery', 'pipeline', current_date + 30)",
                 (ids["deal"], org, tenant.team_id, tenant.user.id, ids["account"]))
    return ids


def _run(written: dict, selection: dg.AssetSelection, *, dbt: bool = False):
    res = resources(database_url=written["database"], landing_url=str(written["state"] / "landing"),
                    typesense=written["typesense"])
    config = {"ops": {"revorc_dbt_models": {"config": {"as_of": written["as_of"]}}}} if dbt else {}
    return dg.materialize([*ASSETS, *reverse_etl_checks], selection=selection, resources=res,
                          instance=dg.DagsterInstance.ephemeral(), raise_on_error=False, run_config=config)


@pytest.fixture(scope="module")
def written(pg, tmp_path_factory, typesense_server):
    """Two organizations' CRM rows through dbt and the four write-backs (with their checks), once."""
    database = pg.url(pg.clone())
    state = tmp_path_factory.mktemp("reverse-etl")
    settings = make_settings(database, state)
    a, b = make_tenant(settings), make_tenant(settings)
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        rows = {"a": _crm(conn, a), "b": _crm(conn, b)}
    written = {"database": database, "state": state, "as_of": datetime.now(UTC).date().isoformat(), "rows": rows,
               "typesense": (*typesense_server, f"retl_{pg.worker}"),
               "a": str(a.organization_id), "b": str(b.organization_id)}
    # the whole dbt project (a subset would run relationship tests against models it did not build), no ML
    selection = dg.AssetSelection.all() - dg.AssetSelection.groups("ml")
    written["result"] = _run(written, selection, dbt=True)
    yield written
    pg.drop(database.rsplit("/", 1)[-1].split("?")[0])


def test_every_check_passes_after_the_write_back(written):
    result = written["result"]
    assert result.success, [e.message for e in result.all_events if e.is_failure][:3]
    evaluations = {c.check_name: c.passed for c in result.get_asset_check_evaluations()
                   if c.asset_key in REVERSE_ETL}
    assert sorted(evaluations) == CHECK_NAMES
    assert all(evaluations.values()), evaluations


def test_audit_counts_drift_per_organization(written):
    rows, a, b = written["rows"], written["a"], written["b"]
    with psycopg.connect(psycopg_conninfo(written["database"])) as conn:  # rolled back at the end
        conn.execute("update app.accounts set health_score = coalesce(health_score, 0) + 1 where id = %s",
                     (rows["a"]["account"],))
        conn.execute("update app.deals set ai_analysis = jsonb_set(ai_analysis, '{risk,as_of}', '\"2999-01-01\"')"
                     " where id = %s", (rows["b"]["deal"],))
        conn.execute("delete from app.prospects where id = %s", (rows["b"]["prospect"],))
        found = {t.name: {r["organization_id"]: r for r in audit(conn, t) if r["organization_id"] in (a, b)}
                 for t in TARGETS}
        conn.rollback()
    assert found["account_health_scores"][a] == {"organization_id": a, "mart_rows": 1, "app_rows": 1,
                                                 "out_of_step": 1, "newer_than_mart": 0}
    assert found["account_health_scores"][b]["out_of_step"] == 0
    assert found["deal_risk_scores"][b] == {"organization_id": b, "mart_rows": 1, "app_rows": 1, "out_of_step": 0,
                                            "newer_than_mart": 1}
    assert found["prospect_intent_scores"][b] == {"organization_id": b, "mart_rows": 1, "app_rows": 0,
                                                  "out_of_step": 0, "newer_than_mart": 0}
    assert found["prospect_intent_scores"][a]["app_rows"] == 1


def test_a_drifted_app_row_fails_the_check_until_the_write_back_runs_again(written):
    database, account, org = written["database"], written["rows"]["a"]["account"], written["a"]
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        conn.execute("update app.accounts set health_score = coalesce(health_score, 0) + 1 where id = %s", (account,))
    health = dg.AssetKey(["reverse_etl", "account_health_scores"])
    drifted = _run(written, dg.AssetSelection.checks_for_assets(health))
    evaluations = {c.check_name: c for c in drifted.get_asset_check_evaluations()}
    failed = evaluations["account_health_scores_in_step_with_mart"]
    assert not failed.passed
    assert failed.metadata["rows_out_of_step"].value == 1
    assert [r["organization_id"] for r in failed.metadata["organizations"].value] == [org]
    assert evaluations["account_health_scores_rows_per_organization"].passed

    repaired = _run(written, dg.AssetSelection.assets(health))
    assert all(c.passed for c in repaired.get_asset_check_evaluations())
    assert {c.check_name for c in repaired.get_asset_check_evaluations()} == {
        "account_health_scores_in_step_with_mart", "account_health_scores_rows_per_organization"}

"""The hourly dbt build rebuilds only the tables whose inputs changed since the recorded build (pipelines/defs/dbt/
views.py): after a new intent signal and an edited deal, the tables reading them are rebuilt, the others are left out
with their tests, and every table of the project then equals a full rebuild on the same data."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from datetime import date, datetime

import psycopg
import pytest

from pipelines.defs.dbt.project import DBT_PROJECT_DIR, dbt_env, dbt_executable, hourly_build_args
from pipelines.defs.dbt.views import ViewRecord
from pipelines.ingest.ledger import psycopg_conninfo
from tests.conftest import make_settings
from tests.factories import make_tenant

pytestmark = pytest.mark.slow
AS_OF = date(2026, 1, 31)


class _Dbt:
    def __init__(self, database: str, work) -> None:
        self.database = database
        self.env = {**os.environ, **dbt_env(database), "DBT_LOG_PATH": str(work / "logs"), "REVORC_DBT_THREADS": "2"}
        self.target = work / "target"

    def build(self, *extra: str) -> dict[str, str]:
        """`dbt build` (no unit tests), the record of built relations updated as the hourly job does; the status of
        every model it ran."""
        manifest = self.manifest() if (self.target / "manifest.json").exists() else None
        with psycopg.connect(psycopg_conninfo(self.database)) as conn:
            record = ViewRecord(conn, self.target, manifest=manifest, as_of=AS_OF.isoformat())
        if "--hourly" in extra:
            extra = tuple(hourly_build_args(record.leave_out(manifest)))
        args = [dbt_executable(), "build", "--vars", json.dumps({"as_of": AS_OF.isoformat()}),
                "--target-path", str(self.target), "--exclude-resource-type", "unit_test", *extra]
        ran = subprocess.run(args, cwd=DBT_PROJECT_DIR, env=self.env, capture_output=True, text=True, timeout=900)
        assert ran.returncode == 0, ran.stdout[-4000:]
        results = json.loads((self.target / "run_results.json").read_text())
        if manifest is None:  # the first build: its own manifest names this database's relations
            with psycopg.connect(psycopg_conninfo(self.database)) as conn:
                record = ViewRecord(conn, self.target, manifest=self.manifest(), as_of=AS_OF.isoformat())
        record.update(self.manifest(), results)
        return {r["unique_id"]: r["status"] for r in results["results"]}

    def manifest(self) -> dict:
        return json.loads((self.target / "manifest.json").read_text())


def _tables(conn, manifest: dict) -> dict[str, list[tuple]]:
    """Every row of every table and incremental model."""
    out = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node["config"]["materialized"] in ("table", "incremental"):
            rows = conn.execute(f"select * from {node['relation_name']}").fetchall()
            out[node["name"]] = sorted(rows, key=repr)
    return out


def test_the_hourly_build_rebuilds_what_changed_and_equals_a_full_rebuild(pg, tmp_path):
    database = pg.url(pg.clone())
    tenant = make_tenant(make_settings(database, tmp_path))
    org = tenant.organization_id
    noon = datetime.fromisoformat("2026-01-20T12:00:00+00:00")
    account, prospect, deal = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        conn.execute("insert into app.accounts (id, organization_id, name, domain)"
                     " values (%s, %s, 'Acme', 'acme.test')", (account, org))
        conn.execute("insert into app.prospects (id, organization_id, account_id, email, created_at)"
                     " values (%s, %s, %s, 'p1@acme.test', '2025-10-01')", (prospect, org, account))
        conn.execute("insert into app.deals (id, organization_id, account_id, name, amount, stage, forecast_category,"
                     " created_at) values (%s, %s, %s, 'Acme deal', 1000, 'discovery', 'pipeline', '2025-12-01')",
                     (deal, org, account))
        conn.execute("insert into raw.intent_signals (organization_id, signal_type, prospect_email, strength,"
                     " occurred_at, provider, source) values (%s, 'funding', 'p1@acme.test', 1, %s, 'test', 'test')",
                     (org, noon))

    dbt = _Dbt(database, tmp_path)
    dbt.build("--full-refresh")
    nothing_new = dbt.build("--hourly")
    tables = {uid for uid, node in dbt.manifest()["nodes"].items()
              if node["resource_type"] == "model" and node["config"]["materialized"] in ("table", "incremental")}
    assert not tables & set(nothing_new)  # nothing changed: no table rebuilt, none of their tests run
    assert not any(uid.startswith("test.") and uid.split(".")[-2].endswith("fct_forecast") for uid in nothing_new)

    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        conn.execute("insert into raw.intent_signals (organization_id, signal_type, prospect_email, strength,"
                     " occurred_at, provider, source) values (%s, 'news', 'p1@acme.test', 2, %s, 'test', 'test')",
                     (org, datetime.fromisoformat("2026-01-30T09:00:00+00:00")))
        conn.execute("update app.deals set amount = 5000 where id = %s", (deal,))  # same row count
    hourly = dbt.build("--hourly")
    assert {"model.revorc.int_intent__entity_signals", "model.revorc.fct_prospect_intent",
            "model.revorc.fct_deal_health"} <= set(hourly)
    assert "model.revorc.agg_search_daily" not in hourly and "model.revorc.fct_email_events" not in hourly
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        after_hourly = _tables(conn, dbt.manifest())
    dbt.build("--full-refresh")
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        assert _tables(conn, dbt.manifest()) == after_hourly
    pg.drop(database.rsplit("/", 1)[-1].split("?")[0])

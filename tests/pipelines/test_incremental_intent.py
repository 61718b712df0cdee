"""The intent chain and the lead features are incremental: after new signals and page views land, the incremental
dbt build equals a full rebuild on the same data, rewrites only the entities with new signals (and of those only the
days from their new signals' first day), and a new day
(decay moves) equals a full rebuild for that day too. High-intent page views of known prospects become
`website_visit` signals of the seed's strength."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from datetime import date, datetime, timedelta

import psycopg
import pytest

from pipelines.defs.dbt.project import DBT_PROJECT_DIR, dbt_env, dbt_executable
from pipelines.ingest.ledger import psycopg_conninfo
from tests.conftest import make_settings
from tests.factories import make_tenant

pytestmark = pytest.mark.slow
AS_OF = date(2026, 1, 31)
CHAIN = ("int_intent__entity_signals", "int_intent__daily_points", "intent_score_history", "int_intent__entity_scores",
         "fct_prospect_intent", "fct_account_intent", "ml_lead_features")
SELECT = "high_intent_pages intent_signal_weights +fct_prospect_intent +fct_account_intent +ml_lead_features"


class _Dbt:
    def __init__(self, database: str, work) -> None:
        self.env = {**os.environ, **dbt_env(database), "DBT_LOG_PATH": str(work / "logs"), "REVORC_DBT_THREADS": "2"}
        self.target = str(work / "target")

    def build(self, as_of: date, *, full_refresh: bool = False) -> dict[str, str]:
        args = [dbt_executable(), "build", "--select", SELECT, "--exclude", "test_type:unit",
                "--indirect-selection", "cautious",
                "--vars", json.dumps({"as_of": as_of.isoformat()}), "--target-path", self.target]
        ran = subprocess.run(args + (["--full-refresh"] if full_refresh else []), cwd=DBT_PROJECT_DIR,
                             env=self.env, capture_output=True, text=True, timeout=600)
        assert ran.returncode == 0, ran.stdout[-4000:]
        results = json.loads((DBT_PROJECT_DIR / self.target / "run_results.json").read_text())["results"]
        return {r["unique_id"].split(".")[-1]: r.get("adapter_response", {}).get("_message", "") for r in results
                if r["unique_id"].startswith("model.")}


def _tables(conn, *, open_snapshot_only: date | None = None) -> dict[str, list[tuple]]:
    """Every row of the chain. `open_snapshot_only`: of ml_lead_features only that snapshot (a late event reaches the
    closed snapshots at the nightly full rebuild, by design)."""
    tables = {}
    for name in CHAIN:
        where = "where snapshot_date = %(day)s" if name == "ml_lead_features" and open_snapshot_only else ""
        rows = conn.execute(f"select * from analytics.{name} {where}", {"day": open_snapshot_only}).fetchall()
        tables[name] = sorted(rows, key=repr)
    return tables


def _signal(conn, org, *, email=None, domain=None, kind="funding", strength=1.0, at: datetime) -> None:
    conn.execute("insert into raw.intent_signals (organization_id, signal_type, account_domain, prospect_email,"
                 " strength, occurred_at, provider, source) values (%s, %s, %s, %s, %s, %s, 'test', 'test')",
                 (org, kind, domain, email, strength, at))


def _page(conn, org, *, email, path, at: datetime) -> None:
    conn.execute("insert into raw.website_events (organization_id, message_id, type, anonymous_id, email, path,"
                 " occurred_at, source) values (%s, %s, 'page', %s, %s, %s, %s, 'test')",
                 (org, str(uuid.uuid4()), f"anon-{email}", email, path, at))


def test_incremental_intent_equals_a_full_rebuild_and_touches_only_new_entities(pg, tmp_path):
    database = pg.url(pg.clone())
    tenant = make_tenant(make_settings(database, tmp_path))
    org = tenant.organization_id
    noon = datetime.fromisoformat("2026-01-20T12:00:00+00:00")
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        acme, solo = uuid.uuid4(), uuid.uuid4()
        conn.execute("insert into app.accounts (id, organization_id, name, domain) values"
                     " (%s, %s, 'Acme', 'acme.test'), (%s, %s, 'Solo', 'solo.test')", (acme, org, solo, org))
        prospects = {}
        for email, account in (("p1@acme.test", acme), ("p2@acme.test", acme), ("p3@solo.test", solo)):
            prospects[email] = uuid.uuid4()
            conn.execute("insert into app.prospects (id, organization_id, account_id, email, created_at)"
                         " values (%s, %s, %s, %s, '2025-10-01')", (prospects[email], org, account, email))
        _signal(conn, org, email="p1@acme.test", at=noon)
        _signal(conn, org, domain="acme.test", kind="job_posting", at=noon - timedelta(days=10))
        _page(conn, org, email="p1@acme.test", path="/pricing", at=noon)
        _page(conn, org, email="p1@acme.test", path="/blog/post", at=noon)
        _signal(conn, org, email="p3@solo.test", kind="news", strength=2, at=noon - timedelta(days=3))

    dbt = _Dbt(database, tmp_path)
    dbt.build(AS_OF, full_refresh=True)
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        # the /pricing view is a website_visit of strength 0.5 (points 10 × 0.5) for p1 and its account; /blog is not
        visits = conn.execute("select entity_type, base_points from analytics.int_intent__entity_signals"
                              " where signal_source = 'website_events' order by entity_type").fetchall()
        assert [(kind, float(points)) for kind, points in visits] == [("account", 5.0), ("prospect", 5.0)]
        solo_rows = "select xmin::text, * from analytics.{} where entity_id = %s order by score_date"
        before = {t: conn.execute(solo_rows.format(t), (solo,)).fetchall()
                  for t in ("int_intent__daily_points", "intent_score_history", "int_intent__entity_scores")}
        assert before["intent_score_history"]
        # p2 has points from its account's job posting (Jan 10); its new signal (Jan 25) changes Jan 25 onwards only
        p2_rows = ("select score_date, xmin::text from analytics.{} where entity_id = %s and score_date < '2026-01-25'"
                   " order by score_date")
        p2_before = {t: conn.execute(p2_rows.format(t), (prospects["p2@acme.test"],)).fetchall()
                     for t in ("int_intent__daily_points", "intent_score_history")}
        assert all(len(rows) == 15 for rows in p2_before.values())

        # new: a signal for p2, a /demo view and a late (back-dated) signal for p1; nothing for Solo
        _signal(conn, org, email="p2@acme.test", kind="linkedin_engagement", at=noon + timedelta(days=5))
        _page(conn, org, email="p1@acme.test", path="/demo", at=noon + timedelta(days=8))
        _signal(conn, org, email="p1@acme.test", kind="technographic_change", at=noon - timedelta(days=20))

    dbt.build(AS_OF)
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        incremental = _tables(conn, open_snapshot_only=AS_OF)
        after = {t: conn.execute(solo_rows.format(t), (solo,)).fetchall()
                 for t in ("int_intent__daily_points", "intent_score_history", "int_intent__entity_scores")}
        # Solo's rows were not rewritten (same row versions): only the entities with new signals were
        assert after == before
        # and of those, only the days from their new signals' first day (p2: the days before Jan 25 are kept)
        assert {t: conn.execute(p2_rows.format(t), (prospects["p2@acme.test"],)).fetchall()
                for t in ("int_intent__daily_points", "intent_score_history")} == p2_before
        rewritten = conn.execute("select count(*) from analytics.intent_score_history where entity_id = %s"
                                 " and score_date >= '2026-01-25' and xmin::text <> all(%s)",
                                 (prospects["p2@acme.test"], [x for _, x in p2_before["intent_score_history"]]))
        assert rewritten.fetchone()[0] == 7  # Jan 25 to Jan 31, in this build's transaction
        p2_score = conn.execute("select intent_score from analytics.fct_prospect_intent where prospect_id = %s",
                                (prospects["p2@acme.test"],)).fetchone()[0]
        assert p2_score > 0
    dbt.build(AS_OF, full_refresh=True)
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        assert _tables(conn, open_snapshot_only=AS_OF) == incremental

    # the next day: the incremental build's decay and windows move with the as-of date, as a full rebuild's
    dbt.build(AS_OF + timedelta(days=1))
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        next_day = _tables(conn)
    dbt.build(AS_OF + timedelta(days=1), full_refresh=True)
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        assert _tables(conn) == next_day
    pg.drop(database.rsplit("/", 1)[-1].split("?")[0])

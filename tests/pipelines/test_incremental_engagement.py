"""The daily e-mail engagement mart is incremental by row (dimension value and day): after new SendGrid events land,
the incremental dbt build equals a full rebuild on the same data, and the rows no new event belongs to are not
rewritten."""

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
SELECT = "+agg_email_engagement_daily"


def _build(database: str, work, *, full_refresh: bool = False) -> dict[str, str]:
    env = {**os.environ, **dbt_env(database), "DBT_LOG_PATH": str(work / "logs"), "REVORC_DBT_THREADS": "2"}
    args = [dbt_executable(), "build", "--select", SELECT, "--exclude", "test_type:unit",
            "--indirect-selection", "cautious", "--vars", json.dumps({"as_of": AS_OF.isoformat()}),
            "--target-path", str(work / "target")]
    ran = subprocess.run(args + (["--full-refresh"] if full_refresh else []), cwd=DBT_PROJECT_DIR, env=env,
                         capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stdout[-4000:]
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1]: r["status"] for r in results if r["unique_id"].startswith("model.")}


def _rows(conn) -> list[tuple]:
    return sorted(conn.execute("select * from analytics.agg_email_engagement_daily").fetchall(), key=repr)


def _event(conn, org, *, event: str, message: str, at: datetime, prospect=None, email=None, template=None,
           cadence=None) -> None:
    conn.execute("insert into raw.email_events (organization_id, sg_event_id, sg_message_id, event, email, occurred_at,"
                 " prospect_id, template_id, cadence_id, payload, source) values (%s, %s, %s, %s, %s, %s, %s, %s, %s,"
                 " '{}', 'test')", (org, str(uuid.uuid4()), message, event, email, at, prospect, template, cadence))


def test_incremental_email_engagement_equals_a_full_rebuild_and_leaves_other_rows(pg, tmp_path):
    database = pg.url(pg.clone())
    org = make_tenant(make_settings(database, tmp_path)).organization_id
    template, cadence = uuid.uuid4(), uuid.uuid4()
    p1, p2, p3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    day = datetime.fromisoformat("2026-01-20T10:00:00+00:00")
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        for prospect, email in ((p1, "p1@acme.test"), (p2, "p2@acme.test"), (p3, "p3@solo.test")):
            conn.execute("insert into app.prospects (id, organization_id, email, created_at)"
                         " values (%s, %s, %s, '2025-10-01')", (prospect, org, email))
        for prospect, message in ((p1, "m1"), (p2, "m2")):
            for event in ("processed", "delivered"):
                _event(conn, org, event=event, message=message, at=day, prospect=prospect, template=template,
                       cadence=cadence)
        _event(conn, org, event="processed", message="m3", at=day - timedelta(days=5), prospect=p3, template=template)
        _event(conn, org, event="delivered", message="m3", at=day - timedelta(days=5), prospect=p3, template=template)

    _build(database, tmp_path, full_refresh=True)
    untouched = "select dimension, dimension_id, event_date, xmin::text from analytics.agg_email_engagement_daily" \
                " where dimension = 'prospect' and dimension_id = %s"
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        p2_before = conn.execute(untouched, (p2,)).fetchall()
        assert len(p2_before) == 1
        # new: p1 opens and replies to m1 (the same day's rows of p1, the template and the cadence change), a
        # late event by address only for p3 on its old day, and a new day for p1
        _event(conn, org, event="open", message="m1", at=day + timedelta(hours=2), prospect=p1, template=template,
               cadence=cadence)
        _event(conn, org, event="reply", message="m1", at=day + timedelta(hours=3), prospect=p1, template=template,
               cadence=cadence)
        _event(conn, org, event="open", message="m3", at=day - timedelta(days=5, hours=-1), email="p3@solo.test",
               template=template)
        _event(conn, org, event="processed", message="m4", at=day + timedelta(days=2), prospect=p1, template=template)

    ran = _build(database, tmp_path)
    assert ran["agg_email_engagement_daily"] == "success"
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        incremental = _rows(conn)
        # p2 had no new event: its row was not rewritten (same row version)
        assert conn.execute(untouched, (p2,)).fetchall() == p2_before
        template_day = conn.execute(
            "select sent, delivered, opened, replied from analytics.agg_email_engagement_daily"
            " where dimension = 'template' and dimension_id = %s and event_date = %s",
            (template, day.date())).fetchone()
        assert template_day == (2, 2, 1, 1)
        p3_day = conn.execute("select opened from analytics.agg_email_engagement_daily where dimension = 'prospect'"
                              " and dimension_id = %s", (p3,)).fetchone()
        assert p3_day == (1,)  # attributed by address, counted on the old day
    _build(database, tmp_path, full_refresh=True)
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        assert _rows(conn) == incremental
    pg.drop(database.rsplit("/", 1)[-1].split("?")[0])

"""Website sessions are incremental by visitor: after new events land, the incremental build equals a full rebuild
(a late event extends one visitor's session, a new visitor gets its own, other visitors are left alone)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
import pytest

from pipelines.definitions import ASSETS, resources
from pipelines.ingest.ledger import psycopg_conninfo
from tests.conftest import make_settings
from tests.factories import make_tenant
from tests.pipelines import landing_files as lf

pytestmark = pytest.mark.slow
SESSIONS = ("select visitor_id, started_at, ended_at, event_count, page_views, prospect_id"
            " from analytics.fct_website_sessions where organization_id = %s order by visitor_id, started_at")


def _page(anonymous_id: str, message_id: str, at: datetime, path: str = "/pricing") -> str:
    return json.dumps({"type": "page", "anonymousId": anonymous_id, "messageId": message_id,
                       "timestamp": at.isoformat().replace("+00:00", "Z"), "properties": {"path": path}})


def test_incremental_sessions_equal_a_full_rebuild(pg, tmp_path):
    database = pg.url(pg.clone())
    settings = make_settings(database, tmp_path)
    tenant = make_tenant(settings)
    with psycopg.connect(psycopg_conninfo(database)) as conn:
        slug = conn.execute("select slug from app.organizations where id = %s", (tenant.organization_id,)).fetchone()[0]
    as_of = datetime.now(UTC).date()
    start = datetime.combine(as_of - timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=9)
    landing = tmp_path / "landing"
    lf.write(landing, f"website_events/{slug}/day1.jsonl", "\n".join([
        _page("anon-a", "a1", start), _page("anon-a", "a2", start + timedelta(minutes=10)),
        _page("anon-b", "b1", start + timedelta(hours=1)),
    ]) + "\n")
    res = resources(database_url=database, landing_url=str(landing))
    selection = dg.AssetSelection.groups("ingest") | dg.AssetSelection.groups("dbt")

    def build(full_refresh: bool = False):
        config = {"ops": {"revorc_dbt_models": {"config": {"as_of": as_of.isoformat(), "full_refresh": full_refresh}}}}
        result = dg.materialize(ASSETS, selection=selection, resources=res, run_config=config,
                                instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
        assert result.success, [e.message for e in result.all_events if e.is_failure][:3]
        with psycopg.connect(psycopg_conninfo(database)) as conn:
            return conn.execute(SESSIONS, (tenant.organization_id,)).fetchall()

    first = build()
    assert [(r[0], r[3]) for r in first] == [("anon-a", 2), ("anon-b", 1)]
    b_session = first[1]

    # later: anon-a comes back within the 30-minute gap (same session), and once more two hours later (a new
    # session); anon-c is new; anon-b has nothing new
    lf.write(landing, f"website_events/{slug}/day1-late.jsonl", "\n".join([
        _page("anon-a", "a3", start + timedelta(minutes=35)),
        _page("anon-a", "a4", start + timedelta(hours=3)),
        _page("anon-c", "c1", start + timedelta(hours=4), path="/blog"),
    ]) + "\n")
    incremental = build()
    assert [(r[0], r[3]) for r in incremental] == [("anon-a", 3), ("anon-a", 1), ("anon-b", 1), ("anon-c", 1)]
    assert b_session in incremental
    assert incremental == build(full_refresh=True)
    pg.drop(database.rsplit("/", 1)[-1].split("?")[0])

"""The binary-COPY load path keeps the ingest's guarantees: duplicates (in the file, already stored, or stored by
a concurrent writer while the file loads) are counted and never stored twice, a bad line in the middle of a big
file rejects only that line with its reason, and a file that fails while loading leaves nothing behind."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest

from pipelines.ingest.landing import Landing, ingest_source
from pipelines.ingest.ledger import psycopg_conninfo
from pipelines.ingest.sources import SOURCES
from tests.conftest import make_settings
from tests.factories import make_tenant
from tests.pipelines import landing_files as lf

STAMP = int(datetime(2026, 3, 2, 9, tzinfo=UTC).timestamp())


@pytest.fixture
def org(fresh_database, tmp_path):
    settings = make_settings(fresh_database, tmp_path)
    tenant = make_tenant(settings)
    with psycopg.connect(psycopg_conninfo(fresh_database), autocommit=True) as conn:
        slug = conn.execute("select slug from app.organizations where id = %s", (tenant.organization_id,)).fetchone()[0]
    return fresh_database, slug, str(tenant.organization_id)


def _event(n: int, **extra) -> dict:
    return {"email": f"p{n}@acme.test", "timestamp": STAMP + n, "event": "delivered", "sg_event_id": f"evt-{n}",
            "sg_message_id": f"msg-{n}", **extra}


def _jsonl(events) -> str:
    return "\n".join(e if isinstance(e, str) else json.dumps(e) for e in events) + "\n"


def test_duplicates_in_the_file_and_already_stored_are_counted_once(org, tmp_path):
    url, slug, _ = org
    root = tmp_path / "landing"
    lf.write(root, f"email_events/{slug}/a.jsonl", _jsonl([_event(n) for n in range(5)]))
    # evt-3 and evt-4 are stored already; evt-7 twice in this file: the first occurrence wins
    lf.write(root, f"email_events/{slug}/b.jsonl", _jsonl(
        [_event(3), _event(4, event="open"), _event(7, url="https://first.test"), _event(8),
         _event(7, url="https://second.test")]))
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        a, b = ingest_source(conn, Landing(str(root)), SOURCES["email_events"])
        stored = conn.execute("select sg_event_id, event, url from raw.email_events order by sg_event_id").fetchall()
    assert (a.rows_loaded, a.duplicates) == (5, 0)
    assert (b.rows_loaded, b.duplicates, b.rows_rejected) == (2, 3, 0)
    assert [s for s, _, _ in stored] == ["evt-0", "evt-1", "evt-2", "evt-3", "evt-4", "evt-7", "evt-8"]
    assert dict((s, (e, u)) for s, e, u in stored)["evt-4"] == ("delivered", None)  # the stored one stays
    assert dict((s, (e, u)) for s, e, u in stored)["evt-7"] == ("delivered", "https://first.test")


def test_a_key_stored_by_a_concurrent_writer_during_the_load_is_a_duplicate(org, tmp_path):
    """Another writer holds evt-2 uncommitted while the file loads: the lookup cannot see it, the COPY waits on the
    unique index and fails when that writer commits, and the rows then go through `on conflict do nothing`."""
    url, slug, org_id = org
    root = tmp_path / "landing"
    lf.write(root, f"email_events/{slug}/race.jsonl", _jsonl([_event(n) for n in range(4)]))
    results = []
    with psycopg.connect(psycopg_conninfo(url)) as other, psycopg.connect(psycopg_conninfo(url),
                                                                         autocommit=True) as conn:
        other.execute("insert into raw.email_events (organization_id, sg_event_id, event, occurred_at, payload,"
                      " source) values (%s, 'evt-2', 'open', now(), '{}', 'api')", (org_id,))
        loader = threading.Thread(target=lambda: results.extend(
            ingest_source(conn, Landing(str(root)), SOURCES["email_events"])))
        loader.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not other.execute(
                "select exists (select 1 from pg_locks where not granted)").fetchone()[0]:
            time.sleep(0.05)
        other.commit()
        loader.join(60)
        stored = other.execute("select sg_event_id, event, source from raw.email_events order by 1").fetchall()
    [result] = results
    assert (result.status, result.rows_loaded, result.duplicates) == ("loaded", 3, 1)
    assert stored == [("evt-0", "delivered", "email_events"), ("evt-1", "delivered", "email_events"),
                      ("evt-2", "open", "api"), ("evt-3", "delivered", "email_events")]


def test_a_bad_line_in_the_middle_of_a_big_file_rejects_only_that_line(org, tmp_path):
    url, slug, _ = org
    root = tmp_path / "landing"
    events: list = [_event(n) for n in range(5000)]
    events[2500] = '{"event": "delivered", "sg_event_id": "evt-broken", '
    events[3000] = _event(3000, timestamp="2026-3-2")
    path = f"email_events/{slug}/big.jsonl"
    lf.write(root, path, _jsonl(events))
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        [result] = ingest_source(conn, Landing(str(root)), SOURCES["email_events"])
        count = conn.execute("select count(*) from raw.email_events").fetchone()[0]
        rejects = conn.execute("select source_file, line_number, reason, payload from raw.rejected_records"
                               " order by line_number").fetchall()
        sample = conn.execute("select organization_id::text, occurred_at, payload, source, source_file"
                              " from raw.email_events where sg_event_id = 'evt-4999'").fetchone()
    assert (result.rows_loaded, result.rows_rejected) == (4998, 2) and count == 4998
    assert [(f, n) for f, n, _, _ in rejects] == [(path, 2501), (path, 3001)]
    assert rejects[0][2].startswith("invalid JSON") and rejects[0][3] == events[2500]
    assert rejects[1][2] == "invalid ISO 8601 timestamp: '2026-3-2'"
    assert sample == (org[2], datetime.fromtimestamp(STAMP + 4999, UTC), _event(4999), "email_events", path)


def test_a_file_failing_while_loading_leaves_nothing_behind(org, tmp_path):
    """Python's JSON reader accepts NaN, Postgres' jsonb does not: the COPY fails on the last row and the file's
    rows, rejects and ledger entry all go, so the file is tried again on the next run."""
    url, slug, _ = org
    root = tmp_path / "landing"
    lines = [json.dumps(_event(n)) for n in range(1000)] + ['{"event": "bad", "sg_event_id": "x"}',
                                                             json.dumps(_event(1000, score=float("nan")))]
    lf.write(root, f"email_events/{slug}/nan.jsonl", _jsonl(lines))
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            list(ingest_source(conn, Landing(str(root)), SOURCES["email_events"]))
        counts = [conn.execute(f"select count(*) from raw.{t}").fetchone()[0]
                  for t in ("email_events", "rejected_records", "file_ledger")]
    assert counts == [0, 0, 0]

"""A file loaded in runs (parsed in a thread while the previous run is COPYed) stores what a one-run load stores:
the same rows and rejections with the file's line numbers and offsets, duplicates across runs and keys already
stored in a later run counted once, and a failure in any run leaves nothing of the file behind."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg
import pytest

from pipelines.ingest.columnar import parse_columnar, parse_columnar_chunks
from pipelines.ingest.ledger import _prefetched, load_file, psycopg_conninfo
from pipelines.ingest.sources import SOURCES
from tests.conftest import make_settings
from tests.factories import make_tenant
from tests.pipelines.test_ingest_columnar import ORG, _files, _rejects

STAMP = int(datetime(2026, 3, 2, 9, tzinfo=UTC).timestamp())


def _event(n: int, **extra) -> dict:
    return {"email": f"p{n}@acme.test", "timestamp": STAMP + n, "event": "delivered", "sg_event_id": f"evt-{n}",
            "sg_message_id": f"msg-{n}", **extra}


def _jsonl(events) -> bytes:
    return ("\n".join(e if isinstance(e, str) else json.dumps(e) for e in events) + "\n").encode()


@pytest.mark.parametrize(("source", "name", "data"), _files(), ids=lambda v: v if isinstance(v, str) else None)
@pytest.mark.parametrize("chunk_lines", [1, 3, 7])
def test_runs_of_a_file_parse_to_the_whole_file(source, name, data, chunk_lines):
    whole = parse_columnar(SOURCES[source], name, data, organization_id=ORG)
    runs = list(parse_columnar_chunks(SOURCES[source], name, data, organization_id=ORG, chunk_lines=chunk_lines))
    drop = ["received_at", "occurred_at"] if source == "website_events" else []  # each parse reads its own clock

    def rows(table):
        return table.drop_columns(drop).to_pylist()

    assert [r for run in runs for r in rows(run.rows)] == rows(whole.rows)
    assert [r for run in runs for r in _rejects(run.rejects)] == _rejects(whole.rejects)


def test_the_runs_of_a_file_share_one_receipt_time():
    data = _jsonl(json.dumps({"type": "page", "anonymousId": f"a{n}", "messageId": f"m{n}",
                              "timestamp": "2026-03-02T10:00:00Z"}) for n in range(5))
    runs = list(parse_columnar_chunks(SOURCES["website_events"], "s.jsonl", data, organization_id=ORG,
                                      chunk_lines=2))
    assert len(runs) == 3 and not any(run.fallback_rows for run in runs)
    assert len({v for run in runs for v in run.rows.column("received_at").to_pylist()}) == 1


@pytest.fixture
def org(fresh_database, tmp_path):
    settings = make_settings(fresh_database, tmp_path)
    tenant = make_tenant(settings)
    return fresh_database, str(tenant.organization_id)


def _stored(conn) -> list[tuple]:
    return conn.execute("select sg_event_id, event, url from raw.email_events order by sg_event_id").fetchall()


@pytest.mark.parametrize("chunk_lines", [2, None])
def test_duplicates_across_runs_and_stored_keys_in_a_later_run_are_dropped(org, chunk_lines):
    url, org_id = org
    stored = _jsonl([_event(n) for n in (3, 6)])
    # runs of two lines: evt-1 again in the second run, evt-6 (already stored) in the third, evt-3 in the fourth
    data = _jsonl([_event(0), _event(1, url="https://first.test"), _event(2), _event(1, url="https://second.test"),
                   _event(6, event="open"), _event(4), _event(3, event="open"), _event(5), "{broken"])
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        load_file(conn, SOURCES["email_events"], path="email_events/x/stored.jsonl", data=stored,
                  organization_id=org_id, chunk_lines=chunk_lines)
        result = load_file(conn, SOURCES["email_events"], path="email_events/x/new.jsonl", data=data,
                           organization_id=org_id, chunk_lines=chunk_lines)
        rows = _stored(conn)
        rejects = conn.execute("select line_number, byte_offset from raw.rejected_records").fetchall()
    assert (result.status, result.rows_loaded, result.duplicates, result.rows_rejected) == ("loaded", 5, 3, 1)
    assert rows == [("evt-0", "delivered", None), ("evt-1", "delivered", "https://first.test"),
                    ("evt-2", "delivered", None), ("evt-3", "delivered", None), ("evt-4", "delivered", None),
                    ("evt-5", "delivered", None), ("evt-6", "delivered", None)]
    assert rejects == [(9, len(data) - len(b"{broken\n"))]


def test_a_run_failing_after_earlier_runs_were_copied_leaves_nothing_behind(org):
    """Postgres refuses NaN in jsonb: the third run's COPY fails after two runs went in; the file's rows, its
    rejects and its ledger row all go, and the parsing thread stops."""
    url, org_id = org
    data = _jsonl([*(_event(n) for n in range(4)), "{broken", _event(9, score=float("nan"))])
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            load_file(conn, SOURCES["email_events"], path="email_events/x/nan.jsonl", data=data,
                      organization_id=org_id, chunk_lines=2)
        counts = [conn.execute(f"select count(*) from raw.{t}").fetchone()[0]
                  for t in ("email_events", "rejected_records", "file_ledger")]
    assert counts == [0, 0, 0]


def test_prefetching_hands_over_items_in_order_and_raises_the_producers_error_in_place():
    def items():
        yield from range(3)
        raise ValueError("bad run")

    got = []
    with pytest.raises(ValueError, match="bad run"):
        for item in _prefetched(items()):
            got.append(item)
    assert got == [0, 1, 2]


def test_a_consumer_stopping_early_stops_the_producer():
    produced = []

    def items():
        for n in range(1000):
            produced.append(n)
            yield n

    for item in _prefetched(items()):
        if item == 2:
            break
    assert len(produced) <= 5  # one ahead, one waiting, one on its way out: never the whole file

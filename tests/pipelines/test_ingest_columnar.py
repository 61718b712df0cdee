"""The bulk parser (`columnar.py`) and the Arrow COPY encoder (`pgcopy.py`) store exactly what the per-record parser
stored: the same rows (compared in Postgres, column by column), the same rejections with the same line, offset and
reason, for every source type — on the fixtures, on lines built to hit each validation rule, and on bad files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql

from pipelines.ingest import pgcopy
from pipelines.ingest.columnar import parse_columnar
from pipelines.ingest.landing import Landing, ingest_source
from pipelines.ingest.ledger import column_oids, parse_file, psycopg_conninfo, register_text_dumpers
from pipelines.ingest.records import CorruptFile
from pipelines.ingest.sources import SOURCES
from tests.conftest import make_settings
from tests.factories import make_tenant
from tests.pipelines import landing_files as lf

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STAMP = int(datetime(2026, 3, 2, 9, tzinfo=UTC).timestamp())
TODAY = datetime(2026, 3, 2, tzinfo=UTC).date()
ORG = "3f8e0c36-2d59-4f6b-9a56-0ad9d2f3f8b1"


def _sendgrid(n: int, **extra) -> str:
    return json.dumps({"email": f"P{n}@Acme.test", "timestamp": STAMP + n, "event": "delivered",
                       "sg_event_id": f"evt-{n}", "sg_message_id": f"msg-{n}", **extra})


def _segment(n: int, **extra) -> str:
    return json.dumps({"type": "page", "anonymousId": f"anon-{n}", "messageId": f"web-{n}",
                       "timestamp": "2026-03-02T10:00:00Z", "properties": {"path": "/pricing"}, **extra})


EMAIL_LINES = [
    _sendgrid(1), '{"event": "delivered", "sg_event_id": "evt-broken", ', _sendgrid(2, timestamp="2026-3-2"),
    _sendgrid(3, timestamp="2026-03-02T10:00:00Z"), _sendgrid(4, timestamp="2026-03-02T10:00:00.123456+00:00"),
    _sendgrid(5, timestamp="2026-03-02T10:00:00+02:00"), _sendgrid(6, email=" X@Y.z "), _sendgrid(7, event=" OPEN"),
    _sendgrid(8, prospect_id="3F8E0C36-2D59-4F6B-9A56-0AD9D2F3F8B1"), _sendgrid(9, prospect_id="nope"),
    _sendgrid(10, campaign_id="{3f8e0c362d594f6b9a560ad9d2f3f8b1}"), _sendgrid(11, reason="", response="550 no"),
    _sendgrid(12, event="bounce", type="hard", status=5), _sendgrid(13, url={"a": 1}), "", "   ", "[1, 2]", "7",
    '{"event": "open", "event": "click", "sg_event_id": "dup-keys", "timestamp": 1}',
    _sendgrid(14, timestamp=1.5), _sendgrid(15, timestamp=True), _sendgrid(16, sg_event_id=5),
    _sendgrid(17, extra={"n": 1.50, "e": 1e2, "s": "é"}), _sendgrid(18, email=""),
    _sendgrid(19, revorc_email_id="", email_id="3f8e0c36-2d59-4f6b-9a56-0ad9d2f3f8b1"),
    _sendgrid(20, timestamp="1772442000"), _sendgrid(21, event="click", url="https://x.test/é"),
    _sendgrid(22, email="ÉMILE@x.test"), _sendgrid(23, event="unknown"), _sendgrid(1, event="open"),
]
WEBSITE_LINES = [
    _segment(1, properties={"path": "/p", "n": 1.50}, context={"page": {"url": "https://x/p", "title": "T"}}),
    _segment(2, name="Home"), _segment(3, type="identify", traits={"email": "A@B.C"}, timestamp=None,
                                       originalTimestamp="2026-03-02T10:00:00.123Z", sentAt="2026-03-02T10:00:01Z"),
    _segment(4, type="identify", traits={"email": "  "}, context={"traits": {"email": "c@d.e"}}),
    _segment(5, type="track"), _segment(6, type="track", event="Signed Up", timestamp=1772442000),
    _segment(7, type="group", groupId="g"), _segment(8, type="alias"), _segment(9, anonymousId=None),
    _segment(10, messageId=None), _segment(11, messageId="x" * 101), _segment(12, properties="nope"),
    _segment(13, timestamp="", originalTimestamp=""), _segment(14, userId=5), _segment(15, type="screen"),
    _segment(16, timestamp="2026-02-30T10:00:00Z"), _segment(1, properties={"path": "/again"}),
    json.dumps({"batch": [json.loads(_segment(17, type="track", event="E"))], "context": {"ip": "1"}}),
    '{"type": "page", "anonymousId": "a", "messageId": "web-18", "properties": {"path": "/a", "path": "/b"}}',
    "{not json",
]
INTENT_CSV = lf.intent_csv(TODAY, p1="P1@Acme.test", domain="HTTPS://www.Acme.test/x") + "\n".join([
    "news,,p2@x.test,t,0.1235,2026-03-02T10:00:00Z,,g2", "news,,p2x.test,t,0.5,2026-03-02T10:00:00Z,,g2",
    "news,,p2@x.test,t,0.5,2026-03-02T10:00:00Z,2026-03-01T10:00:00Z,g2",
    "news,,p2@x.test,t,0.5,2026-03-02T10:00:00Z,,g2,extra", "news,,p2@x.test,t,0.5",
    " Funding ,a.test,, topic ,999.5,2026-03-02T10:00:00Z,,g2", "funding,a.test,,,5,1772442000,,"]) + "\n"
INTENT_LINES = [json.dumps(r) for r in [
    {"signal_type": "funding", "domain": "acme.test", "strength": 0.734, "occurred_at": "2026-03-02T10:00:00Z"},
    {"signal_type": "funding", "domain": "acme.test", "strength": 1, "occurred_at": "2026-03-02T10:00:00Z",
     "topic": 5},
    {"signal_type": "funding", "domain": "acme.test", "strength": 0.5, "occurred_at": "2026-03-02T10:00:00Z",
     "other": 5},
    {"signal_type": "funding", "prospect_email": "A@B.c", "strength": "2", "occurred_at": 1772442000,
     "expires_at": 0},
    {"signal_type": "funding", "domain": "acme.test", "strength": -1, "occurred_at": "2026-03-02T10:00:00Z"}]]
PEOPLE_CSV = ("entity_type,provider,fetched_at,email,seniority\nperson,apollo,2026-03-02T10:00:00Z,A@b.c,vp\n"
              "person,pdl,2026-03-02T10:00:00Z,,vp\nPerson,PDL,2026-03-02T10:00:00.123456Z,x@y.z,\n"
              "company,pdl,2026-03-02T10:00:00Z,,c\n")
COMPANIES_CSV = ("entity_type,provider,fetched_at,domain,industry,employees,technologies,phone\n"
                 "company,zoominfo,2026-03-02T10:00:00Z,www.Acme.test,software,120,salesforce;segment; x ,"
                 "0123456789012345\ncompany,zoominfo,2026-03-02T10:00:00Z,https://b.test/x,, -7 ,;;,12\n"
                 "company,zoominfo,2026-03-02T10:00:00Z,,saas,1,a,2\ncompany,zoominfo,2026-03-02T10:00:00Z,c.test,"
                 "saas,1,a\n")


def _files() -> list[tuple[str, str, bytes]]:
    by_event = json.loads((FIXTURES / "sendgrid/event_webhook_examples_by_event.json").read_text())
    email = "\n".join(EMAIL_LINES) + "\n"
    return [
        ("email_events", "batch.json", (FIXTURES / "sendgrid/event_webhook_batch_all_events.json").read_bytes()),
        ("email_events", "examples.jsonl", "\n".join(json.dumps(v) for v in by_event.values()).encode()),
        ("email_events", "edge.jsonl", email.encode()),
        ("email_events", "edge-crlf.jsonl", email.replace("\n", "\r\n").encode()),
        ("email_events", "edge-bom.jsonl", b"\xef\xbb\xbf" + email.encode()),
        ("email_events", "edge-u2028.jsonl", (email + "\u2028\n" + _sendgrid(99) + "\n").encode()),
        ("website_events", "site.jsonl", lf.segment_jsonl(TODAY, p1="p1@acme.test").encode()),
        ("website_events", "edge.jsonl", ("\n".join(WEBSITE_LINES) + "\n").encode()),
        ("intent_signals", "feed.csv", lf.intent_csv(TODAY, p1="p1@acme.test", domain="acme.test").encode()),
        ("intent_signals", "edge.csv", INTENT_CSV.encode()),
        ("intent_signals", "quoted.csv", INTENT_CSV.replace("news,,p2@x.test,t,", 'news,,p2@x.test,"t, q",').encode()),
        ("intent_signals", "edge.jsonl", ("\n".join(INTENT_LINES) + "\n").encode()),
        ("enrichment_records", "zoominfo.json", lf.enrichment_json(domain="acme.test").encode()),
        ("enrichment_records", "people.csv", PEOPLE_CSV.encode()),
        ("enrichment_records", "companies.csv", COMPANIES_CSV.encode()),
    ]


def _rejects(rejects) -> list[tuple]:
    return [(r.line_number, r.byte_offset, r.reason, r.payload) for r in rejects]


@pytest.mark.parametrize(("source", "name", "data"), _files(), ids=lambda v: v if isinstance(v, str) else None)
def test_bulk_parser_rejects_what_the_per_record_parser_rejects(source, name, data):
    _, reference = parse_file(SOURCES[source], name, data, organization_id=ORG, loaded_at=datetime.now(UTC))
    assert _rejects(parse_columnar(SOURCES[source], name, data, organization_id=ORG).rejects) == _rejects(reference)


@pytest.fixture
def org(fresh_database, tmp_path):
    settings = make_settings(fresh_database, tmp_path)
    tenant = make_tenant(settings)
    with psycopg.connect(psycopg_conninfo(fresh_database), autocommit=True) as conn:
        slug = conn.execute("select slug from app.organizations where id = %s", (tenant.organization_id,)).fetchone()[0]
    return fresh_database, slug, str(tenant.organization_id)


def _store_reference(conn: psycopg.Connection, source, path: str, data: bytes, organization_id: str) -> str:
    """The per-record parser's rows, de-duplicated as before (first occurrence of a key), COPYed value by value
    with psycopg's dumpers into a scratch copy of the target table; returns that table's name."""
    rows, _ = parse_file(source, path, data, organization_id=organization_id, loaded_at=datetime.now(UTC))
    if source.conflict:
        keys = [source.columns.index(k.strip()) for k in source.conflict.strip("()").split(",")]
        seen, kept = set(), []
        for row in rows:
            key = tuple(str(row[k]) for k in keys)
            if None in (row[k] for k in keys) or key not in seen:
                seen.add(key)
                kept.append(row)
        rows = kept
    schema, table = source.table.split(".")
    scratch = f"reference_{table}"
    conn.execute(sql.SQL("create temp table {} (like {} including defaults including identity)").format(
        sql.Identifier(scratch), sql.Identifier(schema, table)))
    columns = [*source.columns, "source", "source_file"]
    types = column_oids(conn, source.table, columns)
    with conn.cursor() as cur:
        register_text_dumpers(cur)
        with cur.copy(sql.SQL("copy {} ({}) from stdin (format binary)").format(
                sql.Identifier(scratch), sql.SQL(", ").join(map(sql.Identifier, columns)))) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row((*row, source.name, path))
    return scratch


# the columns the parsers fill; received_at is the moment a message is read (each parser reads its own clock),
# and a message without any timestamp occurred when it was received
def _compared(source) -> sql.Composable:
    return sql.SQL(", ").join(
        sql.SQL("nullif(occurred_at, received_at)") if c == "occurred_at" and source.name == "website_events"
        else sql.Identifier(c) for c in (*source.columns, "source", "source_file") if c != "received_at")


@pytest.mark.parametrize(("source_name", "name", "data"), _files(),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_the_rows_stored_are_the_rows_the_per_record_parser_stored(org, tmp_path, source_name, name, data):
    url, slug, org_id = org
    source = SOURCES[source_name]
    path = f"{source_name}/{slug}/{name}"
    lf.write(tmp_path / "landing", path, data)
    started = datetime.now(UTC)
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        [result] = ingest_source(conn, Landing(str(tmp_path / "landing")), source)
        conn.autocommit = False
        scratch = _store_reference(conn, source, path, data, org_id)
        cols = _compared(source)
        target = sql.Identifier(*source.table.split("."))
        only_new = conn.execute(sql.SQL("select {} from {} except all select {} from {}").format(
            cols, target, cols, sql.Identifier(scratch))).fetchall()
        only_old = conn.execute(sql.SQL("select {} from {} except all select {} from {}").format(
            cols, sql.Identifier(scratch), cols, target)).fetchall()
        # jsonb compares by value; its text must match too (numbers as Python wrote them, keys and nesting)
        texts = conn.execute(sql.SQL("select count(*) from {} n join {} o using (sg_event_id)"
                                     " where n.payload::text <> o.payload::text").format(
            target, sql.Identifier(scratch))).fetchone()[0] if source_name == "email_events" else 0
        received = conn.execute("select min(received_at), max(received_at) from raw.website_events").fetchone()
    assert result.status == "loaded"
    assert (only_new, only_old, texts) == ([], [], 0)
    if source_name == "website_events":
        assert started <= received[0] <= received[1] <= datetime.now(UTC)


def test_typical_files_take_the_bulk_path_for_every_line():
    """What the landing zone usually holds (the demo generator's shapes) never falls back to Python per line."""
    email = "\n".join(_sendgrid(n) for n in range(50)) + "\n"
    website = "\n".join([*(_segment(n) for n in range(50)), _segment(51, type="identify", traits={
        "email": "a@b.c"}, properties=None)]) + "\n"
    intent = lf.intent_csv(TODAY, p1="p1@acme.test", domain="acme.test").rsplit("\n", 2)[0] + "\n"
    intent_lines = "\n".join(INTENT_LINES[:1] * 3) + "\n"
    for source, name, data in [("email_events", "a.jsonl", email), ("website_events", "b.jsonl", website),
                               ("intent_signals", "c.csv", intent), ("intent_signals", "d.jsonl", intent_lines),
                               ("enrichment_records", "e.csv", PEOPLE_CSV.replace(
                                   "person,pdl,2026-03-02T10:00:00Z,,vp\n", "").rsplit("company", 1)[0]),
                               ("enrichment_records", "f.csv", COMPANIES_CSV.split("company,zoominfo", 2)[0]
                                + "company,zoominfo" + COMPANIES_CSV.split("company,zoominfo", 2)[1])]:
        parsed = parse_columnar(SOURCES[source], name, data.encode(), organization_id=ORG)
        assert parsed.rows.num_rows > 0 and parsed.fallback_rows == 0 and not parsed.rejects, name


def test_a_file_that_is_not_utf8_is_corrupt():
    with pytest.raises(CorruptFile, match="not UTF-8"):
        parse_columnar(SOURCES["email_events"], "x.jsonl", b"\xff\xfe" + _sendgrid(1).encode(), organization_id=ORG)


def test_a_csv_missing_a_required_column_is_corrupt():
    with pytest.raises(CorruptFile, match="lacks required columns: signal_type"):
        parse_columnar(SOURCES["intent_signals"], "x.csv", INTENT_CSV.replace("signal_type,", "kind,", 1).encode(),
                       organization_id=ORG)


def test_the_copy_encoder_round_trips_every_type(fresh_database):
    """NULLs, negative and rounded numerics, timestamps before PostgreSQL's 2000 epoch, upper-case uuids, jsonb."""
    table = pa.table({
        "t": pa.array(["a", None, "é ü", ""]),
        "j": pa.array(['{"a": [1, 2.5]}', None, '"x"', "{}"]),
        "u": pa.array(["3F8E0C36-2D59-4F6B-9A56-0AD9D2F3F8B1", None, "00000000-0000-0000-0000-000000000001",
                       "ffffffff-ffff-ffff-ffff-ffffffffffff"]),
        "ts": pa.array([datetime(1970, 1, 1, tzinfo=UTC), None, datetime(2026, 3, 2, 9, 1, 2, 345678, tzinfo=UTC),
                        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)], pa.timestamp("us", "UTC")),
        "n": pa.array([Decimal("0.734"), None, Decimal("-999.5"), Decimal("12.000")], pa.decimal128(6, 3)),
    })
    oids = [pgcopy.TEXT, pgcopy.JSONB, pgcopy.UUID, pgcopy.TIMESTAMPTZ, pgcopy.NUMERIC]
    with psycopg.connect(psycopg_conninfo(fresh_database)) as conn:
        conn.execute("create temp table enc (t text, j jsonb, u uuid, ts timestamptz, n numeric(6, 3), c text)")
        with conn.cursor() as cur, cur.copy("copy enc from stdin (format binary)") as copy:
            copy.write(pgcopy.HEADER)
            for chunk in pgcopy.encode(table, oids, [pgcopy.constant_cell("const", pgcopy.TEXT)], chunk_rows=3):
                copy.write(chunk)
            copy.write(pgcopy.TRAILER)
        stored = conn.execute("select t, j, u::text, ts, n, c from enc").fetchall()
    assert stored == [
        ("a", {"a": [1, 2.5]}, "3f8e0c36-2d59-4f6b-9a56-0ad9d2f3f8b1", datetime(1970, 1, 1, tzinfo=UTC),
         Decimal("0.734"), "const"),
        (None, None, None, None, None, "const"),
        ("é ü", "x", "00000000-0000-0000-0000-000000000001", datetime(2026, 3, 2, 9, 1, 2, 345678, tzinfo=UTC),
         Decimal("-999.500"), "const"),
        ("", {}, "ffffffff-ffff-ffff-ffff-ffffffffffff",
         datetime(2000, 1, 1, tzinfo=UTC) - timedelta(microseconds=1), Decimal("12.000"), "const"),
    ]

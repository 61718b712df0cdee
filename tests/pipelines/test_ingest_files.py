"""Landing files → raw: idempotent by the ledger, all-or-nothing per file, rejects quarantined with reasons."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from pipelines.ingest.landing import Landing, ingest_source
from pipelines.ingest.ledger import psycopg_conninfo
from pipelines.ingest.sources import SOURCES
from tests.conftest import make_settings
from tests.factories import make_tenant
from tests.pipelines import landing_files as lf

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def org(fresh_database, tmp_path):
    settings = make_settings(fresh_database, tmp_path)
    tenant = make_tenant(settings)
    with psycopg.connect(psycopg_conninfo(fresh_database), autocommit=True) as conn:
        slug = conn.execute("select slug from app.organizations where id = %s", (tenant.organization_id,)).fetchone()[0]
    return fresh_database, slug, tenant


def _counts(conn) -> dict[str, int]:
    tables = ["email_events", "website_events", "intent_signals", "enrichment_records", "rejected_records",
              "file_ledger"]
    return {t: conn.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in tables}


def _ingest_all(conn, landing):
    return {name: list(ingest_source(conn, landing, source)) for name, source in SOURCES.items()}


def test_ingest_twice_gives_identical_counts(org, tmp_path):
    url, slug, _ = org
    root = tmp_path / "landing"
    today = datetime.now(UTC).date()
    lf.write(root, f"email_events/{slug}/fixture_batch.json",
             (FIXTURES / "sendgrid/event_webhook_batch_all_events.json").read_bytes())
    by_event = json.loads((FIXTURES / "sendgrid/event_webhook_examples_by_event.json").read_text())
    lf.write(root, f"email_events/{slug}/2026/examples.jsonl", "\n".join(json.dumps(v) for v in by_event.values()))
    lf.write(root, f"website_events/{slug}/site.jsonl", lf.segment_jsonl(today, p1="p1@acme.test"))
    lf.write(root, f"intent_signals/{slug}/feed.csv", lf.intent_csv(today, p1="p1@acme.test", domain="acme.test"))
    lf.write(root, f"enrichment_records/{slug}/zoominfo.json", lf.enrichment_json(domain="acme.test"))
    landing = Landing(str(root))
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        first = _ingest_all(conn, landing)
        after_first = _counts(conn)
        second = _ingest_all(conn, landing)
        assert _counts(conn) == after_first
    assert all(r.status == "skipped" for results in second.values() for r in results)
    # the verbatim doc batch repeats one placeholder sg_event_id: 1 row, 10 duplicates (dedup on sg_event_id)
    batch = next(r for r in first["email_events"] if r.path.endswith("fixture_batch.json"))
    assert (batch.rows_loaded, batch.duplicates, batch.rows_rejected) == (1, 10, 0)
    website = first["website_events"][0]
    assert (website.rows_loaded, website.rows_rejected) == (4, 1)
    intent = first["intent_signals"][0]
    assert (intent.rows_loaded, intent.rows_rejected) == (4, 1)
    assert first["enrichment_records"][0].rows_rejected == 1  # the person record without an email
    assert after_first["file_ledger"] == 5


def test_corrupt_file_loads_nothing_and_records_reason(org, tmp_path):
    url, slug, _ = org
    root = tmp_path / "landing"
    good = lf.intent_csv(datetime.now(UTC).date(), p1="p1@acme.test", domain="acme.test")
    lf.write(root, f"intent_signals/{slug}/broken.json", '[{"signal_type": "funding", "strength": 1')
    lf.write(root, f"intent_signals/{slug}/bad_header.csv", good.replace("signal_type,", "kind,", 1))
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        results = list(ingest_source(conn, Landing(str(root)), SOURCES["intent_signals"]))
        assert [r.status for r in results] == ["rejected", "rejected"]
        assert conn.execute("select count(*) from raw.intent_signals").fetchone()[0] == 0
        rows = conn.execute("select source_file, reason from raw.rejected_records order by source_file").fetchall()
        ledger = conn.execute("select status, reason from raw.file_ledger order by path").fetchall()
    assert [r[0] for r in rows] == [f"intent_signals/{slug}/bad_header.csv", f"intent_signals/{slug}/broken.json"]
    assert "lacks required columns: signal_type" in rows[0][1]
    assert "invalid JSON document" in rows[1][1]
    assert [s for s, _ in ledger] == ["rejected", "rejected"]


def test_file_for_unknown_organization_is_rejected_whole(org, tmp_path):
    url, _, _ = org
    root = tmp_path / "landing"
    lf.write(root, "intent_signals/no-such-org/feed.csv",
             lf.intent_csv(datetime.now(UTC).date(), p1="p1@acme.test", domain="acme.test"))
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        [result] = list(ingest_source(conn, Landing(str(root)), SOURCES["intent_signals"]))
        assert result.status == "rejected" and "unknown organization" in result.reason
        assert conn.execute("select count(*) from raw.intent_signals").fetchone()[0] == 0

"""The demo landing generator is deterministic and every file it writes loads without rejects."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import psycopg
from sqlalchemy.orm import Session

from pipelines.demo_data import demo_landing
from pipelines.ingest.landing import Landing, ingest_source
from pipelines.ingest.ledger import psycopg_conninfo
from pipelines.ingest.sources import SOURCES
from revorc.demo import seed_demo
from serving.core.db import engine_for
from tests.conftest import make_settings


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_demo_landing_is_deterministic_and_clean(fresh_database, tmp_path):
    settings = make_settings(fresh_database, tmp_path)
    with Session(engine_for(settings.owner_database_url)) as session, session.begin():
        seed_demo(session, seed=1, prospects=40)
    now = datetime(2026, 1, 15, 12, tzinfo=UTC)
    first = demo_landing(settings, prospects=300, seed=5, now=now, landing_url=str(tmp_path / "a"))
    demo_landing(settings, prospects=300, seed=5, now=now, landing_url=str(tmp_path / "b"))
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert first.rows["email_events"] > 300 and first.rows["intent_signals"] > 0
    with psycopg.connect(psycopg_conninfo(fresh_database), autocommit=True) as conn:
        for source in SOURCES.values():
            results = list(ingest_source(conn, Landing(str(tmp_path / "a")), source))
            assert results and all(r.status == "loaded" and r.rows_rejected == 0 for r in results), source.name
            assert sum(r.rows_loaded for r in results) == first.rows[source.name]


def _times(root: Path) -> dict[str, list[datetime]]:
    """Every event time written under `root`, per source (each format's own field)."""
    def iso(values) -> list[datetime]:
        return [datetime.fromisoformat(v) for v in values]

    times: dict[str, list[datetime]] = {"intent_signals": [], "email_events": [], "website_events": [],
                                        "enrichment_records": []}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        source = path.relative_to(root).parts[0]
        if source == "intent_signals":
            frame = pl.read_csv(path) if path.suffix == ".csv" else pl.read_ndjson(path)
            times[source] += iso(frame["occurred_at"])
        elif source == "email_events":
            times[source] += [datetime.fromtimestamp(json.loads(line)["timestamp"], UTC)
                              for line in path.read_text().splitlines()]
        elif source == "website_events":
            times[source] += iso(json.loads(line)["timestamp"] for line in path.read_text().splitlines())
        elif source == "enrichment_records" and path.suffix == ".csv":
            times[source] += iso(pl.read_csv(path)["fetched_at"])
        elif source == "enrichment_records" and path.suffix == ".json":
            times[source] += iso(r["fetched_at"] for r in json.loads(path.read_text()))
    return times


def test_a_recent_batch_holds_only_the_last_hours_events(fresh_database, tmp_path):
    """`within`: the hourly increment's shape, every event of the batch from the last hour (none after `now`), the
    same prospects' events as without it, and only their companies re-enriched; it loads without rejects."""
    settings = make_settings(fresh_database, tmp_path)
    with Session(engine_for(settings.owner_database_url)) as session, session.begin():
        seed_demo(session, seed=1, prospects=40)
    now = datetime(2026, 1, 15, 12, tzinfo=UTC)
    recent = demo_landing(settings, prospects=10, seed=5, now=now, landing_url=str(tmp_path / "recent"),
                          within=timedelta(hours=1))
    whole = demo_landing(settings, prospects=10, seed=5, now=now, landing_url=str(tmp_path / "whole"))
    times = _times(tmp_path / "recent")
    assert all(times.values()), {source: len(values) for source, values in times.items()}
    assert all(now - timedelta(hours=1) <= t <= now for values in times.values() for t in values)
    assert min(_times(tmp_path / "whole")["intent_signals"]) < now - timedelta(days=30)  # the default: history
    assert recent.rows["email_events"] > 10 and recent.rows["intent_signals"] > 0
    assert recent.rows["enrichment_records"] < whole.rows["enrichment_records"]
    with psycopg.connect(psycopg_conninfo(fresh_database), autocommit=True) as conn:
        for source in SOURCES.values():
            results = list(ingest_source(conn, Landing(str(tmp_path / "recent")), source))
            assert all(r.status == "loaded" and r.rows_rejected == 0 for r in results), source.name
            assert sum(r.rows_loaded for r in results) == recent.rows[source.name]

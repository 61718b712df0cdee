"""The demo landing generator is deterministic and every file it writes loads without rejects."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

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

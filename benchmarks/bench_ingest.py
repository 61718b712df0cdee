"""Benchmark (not a test): events/s per ingest asset, and dbt build time full vs incremental after a 1% increment.

Runs against the configured database (`revorc up`/`revorc services`, or DATABASE_URL) with the demo
organization present. Landing files go to a temporary folder, so the real landing zone is untouched.
Usage: `revorc bench ingest --prospects 100000` or `python -m benchmarks.bench_ingest 100000`.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

import psycopg
from rich.console import Console
from rich.table import Table

from pipelines.defs.dbt.project import DBT_PROJECT_DIR, dbt_env, dbt_executable
from pipelines.demo_data import demo_landing
from pipelines.ingest.landing import Landing, ingest_source
from pipelines.ingest.ledger import psycopg_conninfo
from pipelines.ingest.sources import SOURCES
from serving.core.config import get_settings


def _ingest(url: str, landing: Landing) -> list[tuple[str, int, float]]:
    timings = []
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        for name, source in SOURCES.items():
            started = time.perf_counter()
            rows = sum(r.rows_loaded + r.duplicates + r.rows_rejected for r in ingest_source(conn, landing, source))
            timings.append((name, rows, time.perf_counter() - started))
    return timings


def _dbt_build(url: str, *extra: str) -> float:
    started = time.perf_counter()
    env = {**__import__("os").environ, **dbt_env(url)}
    subprocess.run([dbt_executable(), "build", "--quiet", "--profiles-dir", str(DBT_PROJECT_DIR), *extra],
                   cwd=DBT_PROJECT_DIR, env=env, check=True)
    return time.perf_counter() - started


def run(*, prospects: int, seed: int, console: Console | None = None) -> None:
    console = console or Console()
    settings = get_settings()
    url = settings.owner_database_url
    with tempfile.TemporaryDirectory(prefix="revorc-bench-") as folder:
        with console.status(f"Generating landing files for {prospects:,} prospects…"):
            started = time.perf_counter()
            batch = datetime.now(UTC).strftime("bench-%Y%m%dT%H%M%S")
            summary = demo_landing(settings, prospects=prospects, seed=seed, landing_url=folder, batch=batch)
            generated = time.perf_counter() - started
        console.print(f"generated {sum(summary.rows.values()):,} records in {summary.files} files "
                      f"in {generated:.1f}s")
        table = Table("ingest asset", "records", "seconds", "records/s")
        with console.status("Ingesting…"):
            timings = _ingest(url, Landing(folder))
        for name, rows, seconds in timings:
            table.add_row(name, f"{rows:,}", f"{seconds:.2f}", f"{rows / seconds:,.0f}" if seconds else "-")
        console.print(table)
        with console.status("dbt build --full-refresh…"):
            full = _dbt_build(url, "--full-refresh")
        with console.status("1% increment, ingest, incremental dbt build…"):
            demo_landing(settings, prospects=max(1, prospects // 100), seed=seed + 1, landing_url=folder,
                         now=datetime.now(UTC) + timedelta(hours=1), batch=batch + "-increment")
            _ingest(url, Landing(folder))
            incremental = _dbt_build(url)
        console.print(f"dbt build: full {full:.1f}s, incremental after a 1% increment {incremental:.1f}s")


if __name__ == "__main__":
    run(prospects=int(sys.argv[1]) if len(sys.argv) > 1 else 10_000, seed=7)

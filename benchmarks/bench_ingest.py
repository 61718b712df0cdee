"""Benchmark (not a test): records/s of the file ingest per source, beside a binary COPY of the same rows.

A scratch Postgres gets the demo organization and its landing files at `--prospects` (SendGrid events, Segment
events, intent signals, enrichment records). Per source, our ingest (read every file, parse, validate, load
through the ledger, de-duplicate) is timed; then the rows it would store, already parsed, are written by one
binary `COPY` (psycopg `set_types` + `write_row`) into an empty copy of the same table (same indexes and
constraints) — the physical floor of getting those rows into Postgres, measured in the same run.

Usage: `python -m benchmarks.bench_ingest --prospects 100000` (or `revorc bench ingest`).
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime

import psycopg
from psycopg import sql
from rich.console import Console
from rich.progress import Progress

from benchmarks.common import Row, print_rows, scratch_database

TARGET_RATIO = 0.70


def _settings(url: str, home):
    from serving.core.config import Settings

    saved = {name: os.environ.get(name) for name in ("DATABASE_URL", "REVORC_HOME")}
    os.environ.update(DATABASE_URL=url, REVORC_HOME=str(home))
    try:
        return Settings()
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)


def _binary_copy(conn: psycopg.Connection, source, landing, organization_id: str) -> tuple[int, float]:
    """Rows of every landed file of `source` parsed by the reference per-record parser (untimed), then one binary
    COPY of them into an empty copy of the target table (timed, with its commit)."""
    from pipelines.ingest.ledger import column_oids, parse_file, register_text_dumpers

    loaded_at = datetime.now(UTC)
    rows: list[tuple] = []
    for file in landing.files(source.name):
        parsed, _ = parse_file(source, file.relative_path, landing.read(file), organization_id=organization_id,
                               loaded_at=loaded_at)
        rows.extend((*row, source.name, file.relative_path) for row in parsed)
    columns = [*source.columns, "source", "source_file"]
    schema, table = source.table.split(".")
    scratch = sql.Identifier(f"bench_copy_{table}")
    conn.execute(sql.SQL("drop table if exists {}").format(scratch))
    conn.execute(sql.SQL("create table {} (like {} including all)").format(scratch, sql.Identifier(schema, table)))
    types = column_oids(conn, source.table, columns)
    conn.commit()
    started = time.perf_counter()
    with conn.transaction(), conn.cursor() as cur:
        register_text_dumpers(cur)
        cols = sql.SQL(", ").join(map(sql.Identifier, columns))
        with cur.copy(sql.SQL("copy {} ({}) from stdin (format binary)").format(scratch, cols)) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)
    seconds = time.perf_counter() - started
    conn.execute(sql.SQL("drop table {}").format(scratch))
    conn.commit()
    return len(rows), seconds


def run(*, prospects: int, seed: int, console: Console | None = None) -> list[Row]:
    console = console or Console()
    with scratch_database() as (url, home):
        from sqlalchemy.orm import Session

        from pipelines.demo_data import demo_landing
        from pipelines.ingest.landing import Landing, ingest_source
        from pipelines.ingest.ledger import psycopg_conninfo
        from pipelines.ingest.sources import SOURCES
        from revorc.demo import DEMO_SLUG, seed_demo
        from serving.core.db import engine_for
        from serving.core.migrate import upgrade

        settings = _settings(url, home)
        folder = str(home / "landing")
        with console.status("Migrating, creating the demo organization…"):
            upgrade(url)
            # the landing generator invents the prospects the CRM does not have, so a small tenant is enough
            with Session(engine_for(url)) as session, session.begin():
                seed_demo(session, seed=seed, prospects=min(prospects, 200))
        with console.status(f"Landing the events of {prospects:,} prospects…"):
            summary = demo_landing(settings, prospects=prospects, seed=seed, landing_url=folder, batch="bench")
        console.print(f"{sum(summary.rows.values()):,} records in {summary.files} files")
        landing = Landing(folder)
        rows: list[Row] = []
        total_ours = total_copy = 0.0
        total_records = total_rows = 0
        with psycopg.connect(psycopg_conninfo(url)) as conn, Progress(console=console) as progress:
            org = str(conn.execute("select id from app.organizations where slug = %s", (DEMO_SLUG,)).fetchone()[0])
            conn.commit()
            task = progress.add_task("ingest, then binary COPY, per source", total=2 * len(SOURCES))
            for name, source in SOURCES.items():
                conn.autocommit = True
                started = time.perf_counter()
                records = sum(r.rows_loaded + r.duplicates + r.rows_rejected
                              for r in ingest_source(conn, landing, source))
                ours = time.perf_counter() - started
                conn.autocommit = False
                progress.advance(task)
                copied, baseline = _binary_copy(conn, source, landing, org)
                progress.advance(task)
                total_ours, total_copy = total_ours + ours, total_copy + baseline
                total_records, total_rows = total_records + records, total_rows + copied
                rows.append(_row(f"ingest {name} ({prospects:,} prospects)", records, ours, copied, baseline))
        rows.append(_row(f"ingest of landed event files into raw, all sources ({prospects:,} prospects)",
                         total_records, total_ours, total_rows, total_copy))
    return rows


def _row(what: str, records: int, seconds: float, copied: int, copy_seconds: float) -> Row:
    rate = records / seconds if seconds else 0.0
    floor = copied / copy_seconds if copy_seconds else 0.0
    ratio = rate / floor if floor else None
    return Row(what=what, measured=f"{rate:,.0f} records/s ({records:,} in {seconds:.2f} s)",
               baseline=f"binary COPY {floor:,.0f} rows/s ({copied:,} in {copy_seconds:.2f} s)",
               target=f"≥ {TARGET_RATIO:.0%} of binary COPY", ratio=ratio,
               met=None if ratio is None else ratio >= TARGET_RATIO)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prospects", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    console = Console(width=160)
    print_rows(run(prospects=args.prospects, seed=args.seed, console=console), console)


if __name__ == "__main__":
    main()

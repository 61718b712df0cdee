"""Benchmark (not a test): `dbt build` after a 1 % increment against the full build, measured in the same run.

A scratch Postgres gets the demo organization and its landing files at `--prospects`, which are ingested into
`raw`; then `dbt build --full-refresh` (the nightly build, every test) is timed, then a build with nothing new
(dbt's fixed cost: the floor of any incremental build), then 1 % more events are landed and ingested and the
incremental build (the hourly one: without the data tests tagged `nightly`, the unit tests, the views no build
needs to recreate and the tables and seeds whose inputs did not change, with their tests, as the hourly job runs
it, record of built relations and the sources' data versions included) is timed.
The incremental build's slowest nodes are printed from its `run_results.json`, so what is left of its cost is
visible.

The increment (`--increment`) is the events of 1 % of the prospects, either all from the last hour (`recent`, the
default: what the hourly build finds landed) or over the whole year the demo spans (`backfill`: a late import of
history, which makes every entity it reaches rewrite its daily intent history from its earliest new signal).

Usage: `python -m benchmarks.bench_dbt --prospects 100000` (or `revorc bench dbt`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table

from benchmarks.common import Row, print_rows, scratch_database
from pipelines.defs.dbt.project import hourly_build_args, prepare_manifest
from pipelines.defs.dbt.views import ViewRecord
from serving.core.db import libpq_url

TARGET_RATIO = 0.10


def _ingest(url: str, folder: str) -> int:
    import psycopg

    from pipelines.ingest.landing import Landing, ingest_source
    from pipelines.ingest.ledger import psycopg_conninfo
    from pipelines.ingest.sources import SOURCES

    rows = 0
    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        for source in SOURCES.values():
            rows += sum(r.rows_loaded for r in ingest_source(conn, Landing(folder), source))
    return rows


class _Dbt:
    """`dbt build` into a target folder of its own (the project's `target/` belongs to whoever else runs dbt)."""

    def __init__(self, url: str, work: Path, as_of: str) -> None:
        from pipelines.defs.dbt.project import DBT_PROJECT_DIR, dbt_env, dbt_executable

        self.project = DBT_PROJECT_DIR
        self.executable = dbt_executable()
        self.env = {**os.environ, **dbt_env(url)}
        self.target = work / "target"
        self.as_of = as_of
        self.url = url
        self.left_out: list[str] = []
        self.parsed = json.loads(prepare_manifest().read_text())

    def build(self, *extra: str, hourly: bool = False) -> float:
        """One `dbt build`, timed with what the hourly job does around it: reading this database's record of
        built views to leave the current ones out, and updating the record from the build's artifacts."""
        started = time.perf_counter()
        current = (self.target / "manifest.json").exists()  # no build yet: nothing is recorded either
        # before the first build, the parsed project's manifest (the same nodes), so it records its tables too
        manifest = self._artifact("manifest.json") if current else self.parsed
        with psycopg.connect(libpq_url(self.url)) as conn:
            record = ViewRecord(conn, self.target, manifest=manifest, as_of=self.as_of)
        if hourly:
            extra = (*extra, *hourly_build_args(record.leave_out(manifest) if current else []))
        subprocess.run([self.executable, "build", "--quiet", "--profiles-dir", str(self.project),
                        "--target-path", str(self.target), "--log-path", str(self.target.parent / "logs"),
                        "--vars", json.dumps({"as_of": self.as_of}), *extra],
                       cwd=self.project, env=self.env, check=True)
        record.update(self._artifact("manifest.json"), self._artifact("run_results.json"))
        self.left_out = record.left_out
        return time.perf_counter() - started

    def _artifact(self, name: str) -> dict:
        return json.loads((self.target / name).read_text())

    def node_timings(self) -> list[tuple[str, float]]:
        results = json.loads((self.target / "run_results.json").read_text())["results"]
        return sorted(((r["unique_id"].split(".", 1)[1], r["execution_time"]) for r in results),
                      key=lambda item: -item[1])

    def kind_totals(self) -> dict[str, tuple[int, float]]:
        """Nodes and summed seconds per kind (model, test, unit_test, seed…) of the last build: what its fixed cost
        is made of (the sum exceeds the wall time by the threads' overlap)."""
        totals: dict[str, tuple[int, float]] = {}
        for result in json.loads((self.target / "run_results.json").read_text())["results"]:
            kind = result["unique_id"].split(".", 1)[0]
            count, seconds = totals.get(kind, (0, 0.0))
            totals[kind] = (count + 1, seconds + result["execution_time"])
        return totals


INCREMENTS = {"recent": timedelta(hours=1), "backfill": None}


def run(*, prospects: int, seed: int, increment: str = "recent", console: Console | None = None,
        top: int = 15) -> list[Row]:
    console = console or Console()
    with scratch_database() as (url, home):
        from sqlalchemy.orm import Session

        from pipelines.demo_data import demo_landing
        from revorc.demo import seed_demo
        from serving.core.config import Settings
        from serving.core.db import engine_for
        from serving.core.migrate import upgrade

        saved = {name: os.environ.get(name) for name in ("DATABASE_URL", "REVORC_HOME")}
        os.environ.update(DATABASE_URL=url, REVORC_HOME=str(home))
        try:
            settings = Settings()
        finally:
            for name, value in saved.items():
                os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
        landing = str(home / "landing")
        now = datetime.now(UTC)
        with console.status(f"Migrating and seeding the demo organization with {prospects:,} prospects…"):
            upgrade(url)
            with Session(engine_for(url)) as session, session.begin():
                seed_demo(session, seed=seed, prospects=prospects)
        with console.status("Landing and ingesting its events…"):
            demo_landing(settings, prospects=prospects, seed=seed, landing_url=landing, now=now, batch="full")
            loaded = _ingest(url, landing)
        console.print(f"{loaded:,} records in raw")
        dbt = _Dbt(url, home, as_of=now.date().isoformat())
        with console.status("dbt build --full-refresh (the nightly build)…"):
            full = dbt.build("--full-refresh")
        console.print(f"full build: {full:.1f} s")
        with console.status("dbt build with nothing new (dbt's fixed cost)…"):
            idle = dbt.build(hourly=True)
        console.print(f"build with nothing new: {idle:.1f} s ({len(dbt.left_out)} current views, tables and seeds "
                      "left out)")
        with console.status(f"Landing and ingesting a 1 % increment ({increment})…"):
            demo_landing(settings, prospects=max(1, prospects // 100), seed=seed + 1, landing_url=landing,
                         now=now + timedelta(hours=1), batch="increment", within=INCREMENTS[increment])
            added = _ingest(url, landing)
        console.print(f"increment: {added:,} records")
        with console.status("dbt build after the increment (the hourly build)…"):
            incremental = dbt.build(hourly=True)
        console.print(f"incremental build: {incremental:.1f} s ({len(dbt.left_out)} views, tables and seeds left out)")
        timings = Table("slowest nodes of the incremental build", "seconds", title=f"incremental {incremental:.1f} s")
        for name, seconds in dbt.node_timings()[:top]:
            timings.add_row(name, f"{seconds:.2f}")
        console.print(timings)
        console.print("incremental build by kind: " + ", ".join(
            f"{kind} {count} nodes {seconds:.1f} s" for kind, (count, seconds) in sorted(dbt.kind_totals().items())))
    ratio = incremental / full
    return [
        Row(what=f"`dbt build` after a 1 % increment ({increment}, {prospects:,} prospects)",
            measured=f"{incremental:.1f} s (nothing new: {idle:.1f} s)", baseline=f"full build {full:.1f} s",
            target=f"≤ {TARGET_RATIO:.0%} of the full build", ratio=ratio, met=ratio <= TARGET_RATIO),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prospects", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--increment", choices=sorted(INCREMENTS), default="recent",
                        help="the increment's events: from the last hour, or over the demo's whole year")
    parser.add_argument("--top", type=int, default=15, help="how many of the slowest nodes to print")
    args = parser.parse_args()
    console = Console(width=160)
    print_rows(run(prospects=args.prospects, seed=args.seed, increment=args.increment, console=console,
                       top=args.top), console)


if __name__ == "__main__":
    main()

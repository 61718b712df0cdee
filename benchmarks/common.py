"""What every benchmark shares: a result row (a figure beside its baseline measured in the same run, and the
target), a throw-away database, and the printed table.

Each `benchmarks.bench_<name>` module exposes `run(*, prospects: int, seed: int, console: Console) -> list[Row]`;
`revorc bench` runs the ones asked for and prints their rows as one table.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Row:
    """One line of the performance table.

    `measured` and `baseline` are human figures ("1,840 req/s, p99 41 ms"); `ratio` is measured ÷ baseline in
    the sense the target is written (None when there is no baseline); `met` says whether the target holds.
    """

    what: str
    measured: str
    baseline: str
    target: str
    ratio: float | None = None
    met: bool | None = None


def table(rows: list[Row], *, title: str = "AIRevenueOrc benchmarks") -> Table:
    out = Table(title=title, show_lines=False)
    for column in ("what", "measured", "baseline (same run)", "ratio", "target", "met"):
        out.add_column(column, overflow="fold")
    for row in rows:
        ratio = "—" if row.ratio is None else f"{row.ratio:.2f}"
        met = {True: "[green]yes[/green]", False: "[red]no[/red]", None: "—"}[row.met]
        out.add_row(row.what, row.measured, row.baseline, ratio, row.target, met)
    return out


def markdown(rows: list[Row]) -> str:
    """The same table for the README."""
    lines = ["| what | measured | baseline (same run) | ratio | target | met |", "|---|---|---|---|---|---|"]
    for row in rows:
        ratio = "—" if row.ratio is None else f"{row.ratio:.2f}"
        met = {True: "yes", False: "no", None: "—"}[row.met]
        lines.append(f"| {row.what} | {row.measured} | {row.baseline} | {ratio} | {row.target} | {met} |")
    return "\n".join(lines)


@contextlib.contextmanager
def scratch_database(prefix: str = "revorc-bench-") -> Iterator[tuple[str, Path]]:
    """(owner SQLAlchemy URL, a temporary REVORC_HOME): `DATABASE_URL` when set, else an embedded PostgreSQL
    started in a temporary folder and stopped (with the folder removed) afterwards. Not migrated."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        home = Path(folder)
        if os.environ.get("DATABASE_URL"):
            yield os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1), home
            return
        from revorc.services import start_postgres, stop_postgres

        url, pid, pgdata = start_postgres(home / "pg")
        try:
            yield url, home
        finally:
            stop_postgres(pgdata, pid)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) of `values`, nearest-rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def print_rows(rows: list[Row], console: Console | None = None, *, title: str = "AIRevenueOrc benchmarks") -> None:
    (console or Console(width=160)).print(table(rows, title=title))

"""Load one landing file into `raw`, all or nothing, recorded in `raw.file_ledger` by path and checksum.

One transaction per file: the ledger row, every good row (COPY into a transaction-scoped staging copy of
the target, then `insert … on conflict do nothing` for de-duplication) and every rejected record commit
together, or nothing does. A file already in the ledger with the same checksum is skipped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from pipelines.ingest.records import CorruptFile, Record, Reject, records_for
from pipelines.ingest.sources import Source
from serving.events.records import InvalidRecord

REJECT_COLUMNS = ("source", "source_file", "line_number", "byte_offset", "reason", "payload")


@dataclass
class LoadResult:
    path: str
    status: str  # loaded | rejected | skipped
    rows_loaded: int = 0
    rows_rejected: int = 0
    duplicates: int = 0
    reason: str | None = None
    reasons: dict[str, int] = field(default_factory=dict)


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def psycopg_conninfo(url: str) -> str:
    """SQLAlchemy URL (`postgresql+psycopg://…`) → a libpq URI."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def parse_file(source: Source, name: str, data: bytes, *, organization_id: str,
               loaded_at: datetime) -> tuple[list[tuple], list[Reject]]:
    """Rows ready for COPY and the records that failed validation. Raises CorruptFile."""
    rows: list[tuple] = []
    rejects: list[Reject] = []
    columns = source.columns
    for item in records_for(name, data, required_csv=set(source.csv_required), unwrap=source.unwrap):
        if isinstance(item, Reject):
            rejects.append(item)
            continue
        assert isinstance(item, Record)
        try:
            row = source.make_row(item.value, organization_id=organization_id, loaded_at=loaded_at)
        except InvalidRecord as exc:
            rejects.append(Reject(item.line_number, item.byte_offset, str(exc), item.raw[:10000]))
            continue
        rows.append(tuple(row[c] for c in columns))
    return rows, rejects


def already_loaded(conn: psycopg.Connection, source: str, path: str, digest: str) -> bool:
    return conn.execute(
        "select 1 from raw.file_ledger where source = %s and path = %s and checksum = %s", (source, path, digest)
    ).fetchone() is not None


def load_file(conn: psycopg.Connection, source: Source, *, path: str, data: bytes,
              organization_id: str | None) -> LoadResult:
    """Load one file in its own transaction (the connection must not be inside one)."""
    digest = checksum(data)
    loaded_at = datetime.now(UTC)
    with conn.transaction():
        # serialize loaders of the same file (a sensor run and a schedule run racing)
        conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{source.name}:{path}:{digest}",))
        if already_loaded(conn, source.name, path, digest):
            return LoadResult(path, "skipped")
        try:
            if organization_id is None:
                raise CorruptFile("unknown organization for this landing folder")
            rows, rejects = parse_file(source, path, data, organization_id=organization_id, loaded_at=loaded_at)
        except CorruptFile as exc:
            reason = f"corrupt file: {exc}"
            _copy_rejects(conn, source.name, path, [Reject(None, None, reason, data[:2000].decode("utf-8", "replace"))])
            _ledger(conn, source.name, path, digest, len(data), 0, 1, "rejected", reason)
            return LoadResult(path, "rejected", 0, 1, reason=reason, reasons={reason: 1})
        inserted = _copy_rows(conn, source, path, rows)
        _copy_rejects(conn, source.name, path, rejects)
        _ledger(conn, source.name, path, digest, len(data), inserted, len(rejects), "loaded", None)
    reasons: dict[str, int] = {}
    for reject in rejects:
        key = reject.reason.split(":")[0]
        reasons[key] = reasons.get(key, 0) + 1
    return LoadResult(path, "loaded", inserted, len(rejects), len(rows) - inserted, reasons=reasons)


def _copy_rows(conn: psycopg.Connection, source: Source, path: str, rows: list[tuple]) -> int:
    if not rows:
        return 0
    columns = [*source.columns, "source", "source_file"]
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    schema, table = source.table.split(".")
    target = sql.Identifier(schema, table)
    staging = sql.Identifier(f"staging_{table}")
    # A transaction-scoped copy of the Alembic-defined target: COPY cannot resolve conflicts itself.
    conn.execute(sql.SQL("create temp table {} on commit drop as select {} from {} with no data").format(
        staging, cols, target))
    with conn.cursor() as cur, cur.copy(sql.SQL("copy {} ({}) from stdin").format(staging, cols)) as copy:
        for row in rows:
            copy.write_row((*row, source.name, path))
    conflict = sql.SQL(f" on conflict {source.conflict} do nothing") if source.conflict else sql.SQL("")
    result = conn.execute(sql.SQL("insert into {} ({}) select {} from {}").format(target, cols, cols, staging)
                          + conflict)
    conn.execute(sql.SQL("drop table {}").format(staging))
    return result.rowcount


def _copy_rejects(conn: psycopg.Connection, source: str, path: str, rejects: list[Reject]) -> None:
    if not rejects:
        return
    cols = sql.SQL(", ").join(map(sql.Identifier, REJECT_COLUMNS))
    with conn.cursor() as cur, cur.copy(sql.SQL("copy raw.rejected_records ({}) from stdin").format(cols)) as copy:
        for r in rejects:
            copy.write_row((source, path, r.line_number, r.byte_offset, r.reason, r.payload.replace("\x00", "")))


def _ledger(conn, source, path, digest, size, loaded, rejected, status, reason) -> None:
    conn.execute(
        "insert into raw.file_ledger (source, path, checksum, size_bytes, rows_loaded, rows_rejected, status, reason)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s)",
        (source, path, digest, size, loaded, rejected, status, reason),
    )

"""Load one landing file into `raw`, all or nothing, recorded in `raw.file_ledger` by path and checksum.

One transaction per file: the ledger row, every good row (binary COPYs into the target, one per run of lines
parsed while the previous run is copied; duplicates of a unique key dropped exactly as `insert … on conflict do
nothing` would) and every rejected record commit together, or nothing does. A file already in the ledger with
the same checksum is skipped. `load_once` is that contract for any loader (the `raw` sources here, the Maven CRM
export in `maven_crm.py`).
"""

from __future__ import annotations

import hashlib
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import TypeVar

import polars as pl
import psycopg
import pyarrow as pa
from psycopg import sql
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg.types.json import JsonbBinaryDumper
from psycopg.types.uuid import UUIDBinaryDumper

from pipelines.ingest import pgcopy
from pipelines.ingest.columnar import parse_columnar_chunks
from pipelines.ingest.records import CorruptFile, Record, Reject, records_for
from pipelines.ingest.sources import Source
from serving.core.db import libpq_url as psycopg_conninfo  # noqa: F401  (the name the tests import)
from serving.events.records import InvalidRecord

T = TypeVar("T")
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


def parse_file(source: Source, name: str, data: bytes, *, organization_id: str,
               loaded_at: datetime) -> tuple[list[tuple], list[Reject]]:
    """Rows and the records that failed validation, one record at a time in Python. Raises CorruptFile.

    Loading uses the bulk parser (`columnar.parse_columnar`); this is the reference it is tested against (and the
    benchmark's way of getting the rows for its COPY baseline)."""
    rows: list[tuple] = []
    rejects: list[Reject] = []
    columns = itemgetter(*source.columns)  # the row dict's values in column order, in C
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
        rows.append(columns(row))
    return rows, rejects


def already_loaded(conn: psycopg.Connection, source: str, path: str, digest: str) -> bool:
    return conn.execute(
        "select 1 from raw.file_ledger where source = %s and path = %s and checksum = %s", (source, path, digest)
    ).fetchone() is not None


@dataclass
class Loaded:
    """What a loader wrote inside the ledger's transaction: rows inserted, records refused, duplicates dropped."""

    rows_loaded: int
    rejects: list[Reject] = field(default_factory=list)
    duplicates: int = 0


def load_once(conn: psycopg.Connection, *, source: str, path: str, data: bytes, load: Callable[[], Loaded],
              digest: str | None = None) -> LoadResult:
    """Run `load` for one landed file (or one set of files read together) in its own transaction, at most once.

    The ledger row, everything `load` writes and every rejected record commit together or not at all; the same
    bytes at the same path are skipped. `load` raises CorruptFile to reject the whole file, which is then
    recorded (ledger and rejected_records) so it is not retried until different bytes land.
    `digest` replaces the checksum of `data` when more than the bytes decides what was loaded. The connection
    must not be inside a transaction.
    """
    digest = digest or checksum(data)
    with conn.transaction():
        # serialize loaders of the same file (a sensor run and a schedule run racing)
        conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{source}:{path}:{digest}",))
        if already_loaded(conn, source, path, digest):
            return LoadResult(path, "skipped")
        try:
            with conn.transaction():  # a savepoint: a corrupt file's partial writes go, its ledger row stays
                loaded = load()
        except CorruptFile as exc:
            reason = f"corrupt file: {exc}"
            _copy_rejects(conn, source, path, [Reject(None, None, reason, data[:2000].decode("utf-8", "replace"))])
            _ledger(conn, source, path, digest, len(data), 0, 1, "rejected", reason)
            return LoadResult(path, "rejected", 0, 1, reason=reason, reasons={reason: 1})
        _copy_rejects(conn, source, path, loaded.rejects)
        _ledger(conn, source, path, digest, len(data), loaded.rows_loaded, len(loaded.rejects), "loaded", None)
    reasons: dict[str, int] = {}
    for reject in loaded.rejects:
        key = reject.reason.split(":")[0]
        reasons[key] = reasons.get(key, 0) + 1
    return LoadResult(path, "loaded", loaded.rows_loaded, len(loaded.rejects), loaded.duplicates, reasons=reasons)


# Lines parsed per run: a file's runs are parsed in a thread while the previous run is copied, so parsing (DuckDB,
# on one core) and the COPY (the Postgres backend, on the other) overlap; a run is a few tens of MB of JSON.
CHUNK_LINES = 200_000


def load_file(conn: psycopg.Connection, source: Source, *, path: str, data: bytes, organization_id: str | None,
              chunk_lines: int | None = CHUNK_LINES) -> LoadResult:
    """Load one landing file of a `raw` source in its own transaction (the connection must not be inside one).

    The file is parsed in runs of `chunk_lines` lines (None: whole), each COPYed as soon as it is parsed while
    the next is parsed; all runs are in the file's one transaction, so the file is still all or nothing."""

    def load() -> Loaded:
        if organization_id is None:
            raise CorruptFile("unknown organization for this landing folder")
        keys = _FileKeys(source)
        inserted = parsed_rows = 0
        rejects: list[Reject] = []
        runs = parse_columnar_chunks(source, path, data, organization_id=organization_id, chunk_lines=chunk_lines)
        for parsed in _prefetched(runs):
            inserted += _copy_rows(conn, source, path, parsed.rows, keys)
            parsed_rows += parsed.rows.num_rows
            rejects.extend(parsed.rejects)
        return Loaded(inserted, rejects, parsed_rows - inserted)

    return load_once(conn, source=source.name, path=path, data=data, load=load)


def _prefetched(items: Iterator[T]) -> Iterator[T]:
    """`items`, produced one ahead in a thread (its exceptions re-raised here, in order); stopping early (the
    consumer failed) stops the producer after the item it is on."""
    handoff: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                handoff.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((True, _DONE))
        except BaseException as exc:  # handed to the consumer, who raises it
            put((False, exc))

    producer = threading.Thread(target=produce, name="ingest-parse", daemon=True)
    producer.start()
    try:
        while True:
            ok, item = handoff.get()
            if not ok:
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        producer.join()


_DONE = object()


class _FileKeys:
    """The unique keys a file has offered so far (its earlier runs included), and whether one of them was found
    already stored: until then a run is COPYed straight into the target, the unique index being the check."""

    def __init__(self, source: Source) -> None:
        self.names = [k.strip() for k in (source.conflict or "").strip("()").split(",") if k.strip()]
        self.seen: pl.DataFrame | None = None
        self.stored_met = False

    def first_occurrences(self, rows: pa.Table) -> pa.Table:
        """`rows` without those whose key came earlier in the file (a key with a null never conflicts, as in
        Postgres); the first occurrence wins."""
        frame = pl.from_arrow(rows.select(self.names)).with_row_index("_row")
        keyed = pl.all_horizontal(pl.col(self.names).is_not_null())
        first = frame.filter(keyed).unique(subset=self.names, keep="first", maintain_order=True)
        if self.seen is not None:
            first = first.join(self.seen, on=self.names, how="anti", nulls_equal=False)
        self.seen = first.select(self.names) if self.seen is None else pl.concat([self.seen, first.select(self.names)])
        keep = pl.concat([frame.filter(~keyed)["_row"], first["_row"]]).sort()
        return rows if len(keep) == rows.num_rows else rows.take(keep.to_arrow())


def _copy_rows(conn: psycopg.Connection, source: Source, path: str, rows: pa.Table, keys: _FileKeys) -> int:
    """Store `rows` (one run of the file, its provenance added) and return how many were new.

    A source without a unique key appends every row. For one with a key, rows whose key came earlier in the file
    are dropped first (the first occurrence winning, what `insert … on conflict do nothing` kept), then:
    - while no key of the file has been found stored, the run is COPYed straight in inside a savepoint: the unique
      index is the duplicate check, and a new file of new events pays for no lookup;
    - once one has (the COPY failed on the index), the run's keys are looked up first and only the new rows
      COPYed; should another writer (the API's intake, another file) store one of those keys meanwhile, that COPY
      fails too and the rows go through a staging table and `insert … on conflict do nothing` instead.
    Earlier runs of the file are already in the target (same transaction), so each run's checks see them.
    """
    if not rows.num_rows:
        return 0
    schema, table = source.table.split(".")
    target = sql.Identifier(schema, table)
    if source.conflict is None:
        return _copy(conn, target, source.table, rows, path, source.name)
    first = keys.first_occurrences(rows)
    if not keys.stored_met:
        try:
            with conn.transaction():  # a savepoint: a stored key undoes only this run's COPY
                return _copy(conn, target, source.table, first, path, source.name)
        except psycopg.errors.UniqueViolation:
            keys.stored_met = True
    fresh = _not_stored(conn, source, keys.names, first)
    try:
        with conn.transaction():  # a key stored by someone else since the lookup undoes only this
            return _copy(conn, target, source.table, fresh, path, source.name)
    except psycopg.errors.UniqueViolation:
        pass
    cols = sql.SQL(", ").join(map(sql.Identifier, [*source.columns, "source", "source_file"]))
    staging = sql.Identifier(f"staging_{table}")
    # A transaction-scoped copy of the Alembic-defined target: COPY cannot resolve conflicts itself.
    conn.execute(sql.SQL("create temp table {} on commit drop as select {} from {} with no data").format(
        staging, cols, target))
    _copy(conn, staging, source.table, first, path, source.name)
    result = conn.execute(sql.SQL("insert into {} ({}) select {} from {} on conflict {} do nothing").format(
        target, cols, cols, staging, sql.SQL(source.conflict)))
    conn.execute(sql.SQL("drop table {}").format(staging))
    return result.rowcount


def _not_stored(conn: psycopg.Connection, source: Source, names: list[str], rows: pa.Table) -> pa.Table:
    """`rows` (unique keys) without those whose key is already in the target table (a key with a null never
    conflicts)."""
    frame = pl.from_arrow(rows.select(names)).with_row_index("_row")
    keyed = frame.filter(pl.all_horizontal(pl.col(names).is_not_null()))
    # the candidate keys go to the server as one binary COPY (encoded from their Arrow columns) into a
    # transaction-scoped table, and come back only where already stored
    candidates = sql.Identifier(f"keys_{source.table.split('.')[1]}")
    cols = sql.SQL(", ").join(map(sql.Identifier, names))
    conn.execute(sql.SQL("create temp table {} on commit drop as select {} from {} with no data").format(
        candidates, cols, sql.Identifier(*source.table.split("."))))
    _copy(conn, candidates, source.table, keyed.select(names).to_arrow(), None, None)
    conn.execute(sql.SQL("analyze {}").format(candidates))  # a fresh temp table has no statistics to plan by
    stored = conn.execute(sql.SQL("select {} from {} join {} using ({})").format(
        sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier("k", n)) for n in names),
        sql.SQL("{} as k").format(candidates), sql.Identifier(*source.table.split(".")), cols)).fetchall()
    conn.execute(sql.SQL("drop table {}").format(candidates))
    if not stored:
        return rows
    keep = frame.join(pl.DataFrame(stored, schema=dict.fromkeys(names, pl.String), orient="row"), on=names,
                      how="anti", nulls_equal=False)["_row"].sort()
    return rows.take(keep.to_arrow())


def _copy(conn: psycopg.Connection, into: sql.Composable, table: str, rows: pa.Table, path: str | None,
          source: str | None) -> int:
    """One binary COPY of `rows` (with their source and file, unless None) into `into`, a table shaped like
    `table`: the COPY stream is encoded from the Arrow columns (`pgcopy`), not value by value."""
    if not rows.num_rows:
        return 0
    provenance = [] if source is None else ["source", "source_file"]
    columns = [*rows.column_names, *provenance]
    oids = column_oids(conn, table, columns)  # not during the COPY: the connection is busy with it
    constants = [pgcopy.constant_cell(v, oid) for v, oid in zip((source, path), oids[len(rows.column_names):],
                                                               strict=False)]
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    with conn.cursor() as cur, cur.copy(sql.SQL("copy {} ({}) from stdin (format binary)").format(
            into, cols)) as copy:
        copy.write(pgcopy.HEADER)
        for chunk in pgcopy.encode(rows, oids[:len(rows.column_names)], constants):
            copy.write(chunk)
        copy.write(pgcopy.TRAILER)
    return rows.num_rows


class _JsonbTextBinaryDumper(Dumper):
    """Binary jsonb from JSON that is already text (the parsers serialise payloads once): the format's version
    byte, then the text as is; Postgres parses and validates it like any jsonb input."""

    format = Format.BINARY
    oid = JsonbBinaryDumper.oid

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()


class _UuidTextBinaryDumper(Dumper):
    """Binary uuid from the canonical text the parsers produce (`str(uuid.UUID(...))`) or from a `uuid.UUID`."""

    format = Format.BINARY
    oid = UUIDBinaryDumper.oid

    def dump(self, obj: str | uuid.UUID) -> bytes:
        return obj.bytes if isinstance(obj, uuid.UUID) else bytes.fromhex(obj.replace("-", ""))


def column_oids(conn: psycopg.Connection, table: str, columns: list[str]) -> list[int]:
    """The type oids of `columns` of `table` (schema.name), for a binary COPY's `set_types`."""
    oids = dict(conn.execute("select attname, atttypid from pg_attribute where attrelid = %s::regclass"
                             " and attnum > 0 and not attisdropped", (table,)).fetchall())
    return [oids[c] for c in columns]


def register_text_dumpers(context: psycopg.Connection | psycopg.Cursor) -> None:
    """In binary COPY with `set_types`, a `str` bound for a jsonb column is that JSON text (psycopg's own dumper
    would serialise it again, into a JSON string), and one bound for a uuid column is the uuid's text."""
    context.adapters.register_dumper(None, _JsonbTextBinaryDumper)
    context.adapters.register_dumper(None, _UuidTextBinaryDumper)


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

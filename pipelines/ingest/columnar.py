"""Parse a landing file in bulk: its lines become an Arrow column, DuckDB validates and normalises them with one
vectorised query per source, and only the lines that query cannot vouch for go through the per-record parser.

The query is deliberately conservative. A line is taken by it (`ok`) only when its shape is one whose result is
provably the per-record parser's (`records.py` + the source's row function): an object with no duplicate keys,
string values where strings are expected, canonical ISO 8601 or integer Unix timestamps, plain ASCII where
Python would strip or lower-case, and so on. Every other line — bad JSON, a value of an odd type, a record the
row function rejects — is handed to that parser, so rejections keep their exact line, offset and reason and rare
shapes keep their exact result. A file whose layout could split lines differently (Unicode line separators, a
lone carriage return, quoted CSV fields, blank CSV lines) is parsed by the per-record parser whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import numpy as np
import pyarrow as pa

from pipelines.ingest.records import CorruptFile, Record, Reject, csv_records, json_line, records_for
from pipelines.ingest.sources import Source
from serving.events.records import InvalidRecord

# str.splitlines() breaks lines at these too (and at a lone \r): such a file is numbered by the per-record parser
_ODD_LINE_BREAKS = (b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9")
# whitespace Python's str.strip() removes but a plain ASCII-space trim would not
_CSV_ODD_SPACE = r"[\t\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{202f}\x{205f}\x{3000}]"
# a value with any whitespace at either end is left to Python's strip()
_EDGE_SPACE = r"^[\pZ\t\n\v\f\r\x{1c}-\x{1f}\x{85}]|[\pZ\t\n\v\f\r\x{1c}-\x{1f}\x{85}]$"
# ISO 8601 shapes `datetime.fromisoformat` certainly reads as DuckDB does; anything else is Python's to judge
_ISO = r"[1-9]\d{3}-\d{2}-\d{2}[T ]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{3}|\.\d{6})?(Z|\+00:00)?"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_MAX_UNIX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second `datetime` can hold
TIMESTAMP = pa.timestamp("us", "UTC")


@dataclass
class Parsed:
    """The file's rows in file order (the source's columns, Arrow-typed) and its rejected records."""

    rows: pa.Table
    rejects: list[Reject]
    # rows the per-record parser produced (the lines the bulk query did not vouch for)
    fallback_rows: int = 0


def arrow_schema(source: Source) -> pa.Schema:
    return pa.schema([(c, _arrow_type(c)) for c in source.columns])


def _arrow_type(column: str) -> pa.DataType:
    if column.endswith("_at"):
        return TIMESTAMP
    if column == "strength":
        return pa.decimal128(6, 3)
    return pa.string()


def parse_columnar(source: Source, name: str, data: bytes, *, organization_id: str) -> Parsed:
    """Rows ready for COPY and the records that failed validation, as the per-record parser would give them.
    Raises CorruptFile."""
    parts = list(parse_columnar_chunks(source, name, data, organization_id=organization_id, chunk_lines=None))
    if len(parts) == 1:
        return parts[0]
    return Parsed(pa.concat_tables([p.rows for p in parts]), [r for p in parts for r in p.rejects],
                  sum(p.fallback_rows for p in parts))


def parse_columnar_chunks(source: Source, name: str, data: bytes, *, organization_id: str,
                          chunk_lines: int | None = None) -> Iterator[Parsed]:
    """`parse_columnar` in consecutive runs of about `chunk_lines` lines (None: the whole file at once), in file
    order, so a loader can COPY one run while the next is parsed. Line numbers and byte offsets of rejects are
    the file's. Raises CorruptFile before the first run (a file is rejected whole or not at all)."""
    lower = name.lower()
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    query = _QUERIES.get(source.name)
    simple = (query is not None and not any(_contains(body, odd) for odd in _ODD_LINE_BREAKS)
              and (b"\r" not in body or body.count(b"\r") == body.count(b"\r\n")))
    if simple and lower.endswith((".jsonl", ".ndjson")) and query.reads_json:
        _utf8(data)

        def sql(begin: int, end: int) -> str:
            # a field named nowhere in the run is not read at all (most of SendGrid's optional fields, typically)
            return query.json({f for f in query.fields
                               if body.find(f'"{f.rsplit(".", 1)[-1]}"'.encode(), begin, end) >= 0})

        yield from _parse_runs(source, body, organization_id, sql, chunk_lines, header=None, unwrap=source.unwrap)
        return
    if simple and lower.endswith(".csv") and query.reads_csv and b'"' not in body:
        _utf8(data)
        header, _, rest = body.partition(b"\n")
        names = header.decode().rstrip("\r").split(",")
        missing = set(source.csv_required) - set(names)
        if missing:
            raise CorruptFile(f"CSV header lacks required columns: {', '.join(sorted(missing))}")
        blank_line = re.search(rb"\n\r?\n", rest) or rest.startswith((b"\n", b"\r\n"))
        # DuckDB's identifiers ignore case: a header must not name a field in another case or twice
        folded = {n.lower() for n in names}
        clash = any(n.lower() in query.fields and n not in query.fields for n in names)
        if len(folded) == len(names) and not clash and not blank_line:
            csv_sql = query.csv(names)
            yield from _parse_runs(source, rest, organization_id, lambda begin, end: csv_sql, chunk_lines,
                                   header=header.decode(), first_line=2)
            return
    yield _reference(source, name, data, organization_id)


def _contains(body: bytes, sequence: bytes) -> bool:
    """`sequence in body`, first looking for its first byte alone (memchr: several times faster on a file of
    plain ASCII, where a multi-byte sequence's lead byte never occurs)."""
    return sequence[:1] in body and (len(sequence) == 1 or sequence in body)


def _utf8(data: bytes) -> None:
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorruptFile(f"not UTF-8: {exc}") from None


def _reference(source: Source, name: str, data: bytes, organization_id: str) -> Parsed:
    records = records_for(name, data, required_csv=set(source.csv_required), unwrap=source.unwrap)
    rows, rejects = _rows_of(source, records, organization_id)
    return Parsed(_table(source, rows), rejects, len(rows))


def _rows_of(source: Source, records, organization_id: str) -> tuple[list[tuple], list[Reject]]:
    rows: list[tuple] = []
    rejects: list[Reject] = []
    for item in records:
        if isinstance(item, Reject):
            rejects.append(item)
            continue
        assert isinstance(item, Record)
        try:
            row = source.row(item.value, organization_id=organization_id)
        except InvalidRecord as exc:
            rejects.append(Reject(item.line_number, item.byte_offset, str(exc), item.raw[:10000]))
            continue
        rows.append(tuple(row[c] for c in source.columns))
    return rows, rejects


def _table(source: Source, rows: list[tuple]) -> pa.Table:
    schema = arrow_schema(source)
    columns = []
    for i, field in enumerate(schema):
        values = [row[i] for row in rows]
        if pa.types.is_decimal(field.type):
            # what PostgreSQL's numeric(p, s) input does with more decimals: round half away from zero
            quantum = Decimal(1).scaleb(-field.type.scale)
            values = [None if v is None else Decimal(v).quantize(quantum, ROUND_HALF_UP) for v in values]
        elif field.type == pa.string():
            values = [None if v is None else str(v) for v in values]
        columns.append(pa.array(values, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _parse_runs(source: Source, body: bytes, organization_id: str, sql: Callable[[int, int], str],
                chunk_lines: int | None, *, header: str | None, unwrap: str | None = None,
                first_line: int = 1) -> Iterator[Parsed]:
    """`body` cut at line ends into runs of `chunk_lines` lines, each parsed by `_parse_lines` with the query
    `sql(begin, end)` gives for its bytes; every run is stamped with the same receipt time (the file's)."""
    buffer = np.frombuffer(body, np.uint8)
    starts = np.concatenate([[0], np.flatnonzero(buffer == 10) + 1]).astype(np.int64)
    if starts[-1] == len(body):
        starts = starts[:-1]  # the file ends with a newline: no empty last line
    received = datetime.now(UTC).replace(tzinfo=None)
    step = chunk_lines or max(len(starts), 1)
    for first in range(0, max(len(starts), 1), step):
        begin = int(starts[first]) if len(starts) else 0
        end = int(starts[first + step]) if first + step < len(starts) else len(body)
        yield _parse_lines(source, body, starts[first:first + step], end, organization_id, sql(begin, end),
                           header=header, unwrap=unwrap, first_line=first_line + first, received=received,
                           begin=begin)


def _parse_lines(source: Source, body: bytes, starts: np.ndarray, end: int, organization_id: str, sql: str, *,
                 header: str | None, unwrap: str | None, first_line: int, received: datetime,
                 begin: int) -> Parsed:
    """The lines of `body` starting at `starts` (byte positions; the last one ends at `end`), the first of them
    line `first_line` of the file."""
    n = len(starts)
    offsets = np.append(starts, end) - begin
    lines = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()),
                                             pa.py_buffer(memoryview(body)[begin:end]))
    table = pa.table({"ordinal": pa.array(np.arange(n, dtype=np.int64)), "line": lines})
    con = duckdb.connect()
    try:
        con.execute("set threads to 2")
        con.register("lines", table)
        params = {"org": organization_id, "received": received}
        result = con.sql(sql, params={k: v for k, v in params.items() if f"${k}" in sql}).to_arrow_table()
    finally:
        con.close()
    ok = result.column("ok").to_numpy(zero_copy_only=False).astype(bool)
    ordinals = result.column("ordinal").to_numpy()
    fast = result.select(list(source.columns))
    if not ok.all():  # a filter copies every column: only when some line goes to Python
        fast = fast.filter(pa.array(ok))
    fast = fast.cast(arrow_schema(source))
    fast_ordinals = ordinals[ok]
    # the per-record parser, for each line the query did not take (in file order, as the reader would)
    rows: list[tuple] = []
    row_ordinals: list[int] = []
    rejects: list[Reject] = []
    for ordinal in np.sort(ordinals[~ok]).tolist():
        line = body[starts[ordinal]:offsets[ordinal + 1] + begin].decode()
        number, start = ordinal + first_line, int(starts[ordinal])
        if header is None:
            records = json_line(line, number, start, unwrap)
        else:
            records = (Record(r.value, number, None, r.raw) for r in csv_records(
                (header + "\n" + line).encode(), required=set()))
        got, refused = _rows_of(source, records, organization_id)
        rows.extend(got)
        row_ordinals.extend([ordinal] * len(got))
        rejects.extend(refused)
    if not rows:
        return Parsed(fast, rejects)
    # merge back into file order: the first occurrence of a duplicate key must stay the one kept
    merged = pa.concat_tables([fast, _table(source, rows)])
    order = np.argsort(np.concatenate([fast_ordinals, np.asarray(row_ordinals, np.int64)]), kind="stable")
    return Parsed(merged.take(pa.array(order)), rejects, len(rows))


# ---------------------------------------------------------------------------------------------------------------
# The per-source queries. Each reads `lines(ordinal, line)` and returns `ordinal`, the source's columns and `ok`.
# A field is read as (value text, JSON type): `v_<name>` and `t_<name>`; CSV cells are VARCHAR or absent.

@dataclass(frozen=True)
class _Query:
    fields: tuple[str, ...]
    select: str
    ok: str
    known: frozenset[str] | None = None  # JSON keys the row function reads (None: any key may be present)
    reads_csv: bool = True
    reads_json: bool = True
    # the `payload` of a CSV row from its other columns (None: a CSV with other columns is left to Python)
    csv_payload: Callable[[list[str]], str] | None = None

    def json(self, present: set[str]) -> str:
        """The query over JSON lines: one parse per line into the fields as JSON, then their type and text."""
        return _json_query(self.fields, self.select, self.ok, present=present, known=self.known)

    def csv(self, names: list[str]) -> str:
        """The same query over a quote-free CSV: each line split at commas, cells trimmed, empty cells absent."""
        width = len(names)
        cells = ", ".join(
            f"nullif(trim(cells[{i + 1}], ' '), '') as \"v_{n}\", case when nullif(trim(cells[{i + 1}], ' '), '')"
            f" is not null then 'VARCHAR' end as \"t_{n}\"" for i, n in enumerate(names))
        missing = ", ".join(f"null::varchar as \"v_{f}\", null::varchar as \"t_{f}\"" for f in self.fields
                            if f not in names)
        extra = [n for n in names if n not in self.fields]
        select, extra_ok = self.select, "true" if not extra else "false"
        if self.csv_payload is not None:
            select = self.select.replace("'{}' as payload", f"{self.csv_payload(extra)} as payload")
            extra_ok = " and ".join([f"({_cell_ok(n)})" for n in extra] or ["true"])
        return f"""
        with split as (
            select ordinal, string_split(rtrim(line, chr(13) || chr(10)), ',') as cells,
                   not regexp_matches(line, '{_CSV_ODD_SPACE}') as plain
            from lines),
        f as (
            select ordinal, plain and len(cells) = {width} as shaped, {cells}{', ' + missing if missing else ''}
            from split)
        select ordinal, {select}, shaped and ({extra_ok}) and ({self.ok}) as ok from f
        """


def _json_query(fields: tuple[str, ...], select: str, ok: str, *, present: set[str],
                known: frozenset[str] | None = None) -> str:
    """`fields` are top-level keys or dotted paths into them (`context.page.url`); `present` those named in the
    file at all. Besides `t_`/`v_`, each top-level field's JSON is `j_<name>`."""
    tops = sorted({f.split(".")[0] for f in fields if f in present})
    spec = ", ".join(f'"{f}": "JSON"' for f in tops) or '"-": "JSON"'

    def read(f: str) -> str:
        if f not in present:
            return f"null::varchar as \"t_{f}\", null::varchar as \"v_{f}\""
        top, _, rest = f.partition(".")
        if not rest:
            return f"json_type(j.\"{f}\") as \"t_{f}\", j.\"{f}\" ->> '$' as \"v_{f}\""
        return (f"json_type(j.\"{top}\", '$.{rest}') as \"t_{f}\","
                f" json_extract_string(j.\"{top}\", '$.{rest}') as \"v_{f}\"")

    reads = ", ".join([*map(read, fields), *(
        (f"j.\"{f}\" as \"j_{f}\"" if f in tops else f"null::json as \"j_{f}\"")
        for f in sorted({f.split(".")[0] for f in fields}))])
    known_ok = "true" if known is None else f"list_has_all([{', '.join(repr(k) for k in sorted(known))}], keys)"
    return f"""
    with parsed as (
        select ordinal, line,
               case when json_valid(line) then json_type(line) = 'OBJECT' else false end as is_object
        from lines),
    j as (
        select ordinal, is_object, case when is_object then json_keys(line) end as keys,
               case when is_object then json_transform(line, '{{{spec}}}') end as j,
               case when is_object then json_extract(line, '$')::varchar end as document
        from parsed),
    f as (select ordinal, is_object, keys, document, {reads} from j)
    select ordinal, {select},
           coalesce(is_object and len(keys) = len(list_distinct(keys)) and {known_ok} and ({ok}), false) as ok
    from f
    """


def _absent(f: str) -> str:
    return f"coalesce(\"t_{f}\", 'NULL') = 'NULL'"


def _string(f: str) -> str:
    return f"\"t_{f}\" = 'VARCHAR'"


def _text(f: str) -> str:
    """`_text()` of records.py: None and "" are NULL, strings stay; other types are left to Python."""
    return f"case when {_string(f)} then nullif(\"v_{f}\", '') end"


def _text_ok(f: str) -> str:
    return f"({_absent(f)} or {_string(f)})"


def _plain(f: str) -> str:
    """A string Python's strip() leaves alone and lower() maps as DuckDB does (ASCII)."""
    return (f"({_string(f)} and not regexp_matches(\"v_{f}\", '{_EDGE_SPACE}')"
            f" and regexp_full_match(\"v_{f}\", '[ -~]*'))")


def _either(first: str, second: str) -> tuple[str, str]:
    """`record.get(first) or record.get(second)` for string fields: (the value, whether it is a plain string or
    absent)."""
    value = f"coalesce(nullif(case when {_string(first)} then \"v_{first}\" end, ''), " \
            f"case when {_string(second)} then nullif(\"v_{second}\", '') end)"
    ok = (f"(({_plain(first)} and \"v_{first}\" <> '') or (({_absent(first)} or ({_string(first)} and "
          f"\"v_{first}\" = '')) and ({_absent(second)} or ({_string(second)} and \"v_{second}\" = '') "
          f"or {_plain(second)})))")
    return value, ok


def _timestamp(f: str) -> str:
    return (f"case when \"t_{f}\" in ('UBIGINT', 'BIGINT') then make_timestamp(try_cast(\"v_{f}\" as bigint) * 1000000)"
            f" when {_string(f)} then try_cast(replace(regexp_replace(\"v_{f}\", '(Z|\\+00:00)$', ''), 'T', ' ')"
            f" as timestamp) end")


def _timestamp_ok(f: str, *, numbers: bool = True) -> str:
    """`parse_timestamp` would accept the value as DuckDB reads it. `numbers=False` where the record tests the
    value's truth first (`0` would be no timestamp at all there)."""
    if not numbers:
        return f"({_string(f)} and regexp_full_match(\"v_{f}\", '{_ISO}') and {_timestamp(f)} is not null)"
    return (f"((\"t_{f}\" in ('UBIGINT', 'BIGINT')"
            f" and try_cast(\"v_{f}\" as hugeint) between 0 and {_MAX_UNIX_SECONDS})"
            f" or ({_string(f)} and regexp_full_match(\"v_{f}\", '{_ISO}') and {_timestamp(f)} is not null))")


def _uuid(f: str) -> str:
    return f"case when {_string(f)} and \"v_{f}\" <> '' then lower(\"v_{f}\") end"


def _uuid_ok(f: str) -> str:
    return f"({_absent(f)} or ({_string(f)} and (\"v_{f}\" = '' or regexp_full_match(\"v_{f}\", '{_UUID}'))))"


def _domain(value: str) -> str:
    """`normalize_domain` of intent.py on a plain string."""
    stripped = f"regexp_replace(regexp_replace(regexp_replace(lower({value}), '^https://', ''), '^http://', ''), " \
               f"'^www\\.', '')"
    return f"nullif(split_part({stripped}, '/', 1), '')"


def _email_events() -> _Query:
    fields = ("event", "sg_event_id", "timestamp", "email", "sg_message_id", "revorc_email_id", "email_id",
              "prospect_id", "campaign_id", "cadence_id", "template_id", "url", "reason", "response", "status",
              "type", "useragent", "ip", "revorc_organization_id", "organization_id")
    kind = "lower(\"v_event\")"
    email_id = _either("revorc_email_id", "email_id")
    reason = _either("reason", "response")
    select = f"""
        $org as organization_id, "v_sg_event_id" as sg_event_id, {_text('sg_message_id')} as sg_message_id,
        {kind} as event, lower(nullif("v_email", '')) as email, {_timestamp('timestamp')} as occurred_at,
        lower({email_id[0]}) as email_id, {_uuid('prospect_id')} as prospect_id,
        {_uuid('campaign_id')} as campaign_id, {_uuid('cadence_id')} as cadence_id,
        {_uuid('template_id')} as template_id, {_text('url')} as url, {reason[0]} as reason,
        {_text('status')} as status, case when {kind} = 'bounce' then {_text('type')} end as bounce_type,
        {_text('useragent')} as useragent, {_text('ip')} as ip, document as payload"""
    ok = " and ".join([
        _plain("event"), f"{kind} in ('processed', 'deferred', 'delivered', 'open', 'click', 'bounce', 'dropped',"
                         " 'spamreport', 'unsubscribe', 'group_unsubscribe', 'group_resubscribe', 'reply')",
        _string("sg_event_id"), "\"v_sg_event_id\" <> ''", _timestamp_ok("timestamp"),
        f"({_absent('email')} or ({_string('email')} and \"v_email\" = '') or {_plain('email')})",
        email_id[1], f"(lower({email_id[0]}) is null or regexp_full_match(lower({email_id[0]}), '{_UUID}'))",
        *[_uuid_ok(f) for f in ("prospect_id", "campaign_id", "cadence_id", "template_id")],
        *[_text_ok(f) for f in ("sg_message_id", "url", "status", "type", "useragent", "ip")],
        f"({_plain('reason')} and \"v_reason\" <> '' or (({_absent('reason')} or ({_string('reason')} and "
        f"\"v_reason\" = '')) and {_text_ok('response')}))",
    ])
    return _Query(fields, select, ok, reads_csv=False)


def _intent() -> _Query:
    fields = ("signal_type", "account_domain", "domain", "prospect_email", "email", "topic", "strength",
              "occurred_at", "expires_at", "provider")
    domain, domain_ok = _either("account_domain", "domain")
    email, email_ok = _either("prospect_email", "email")
    select = f"""
        $org as organization_id, lower("v_signal_type") as signal_type, {_domain(domain)} as account_domain,
        lower({email}) as prospect_email, {_text('topic')} as topic,
        try_cast("v_strength" as decimal(6, 3)) as strength,
        {_timestamp('occurred_at')} as occurred_at,
        {_timestamp('expires_at')} as expires_at, {_text('provider')} as provider,
        '{{}}' as payload"""
    ok = " and ".join([
        _plain("signal_type"), "lower(\"v_signal_type\") in ('website_visit', 'linkedin_engagement', 'job_posting',"
                               " 'technographic_change', 'funding', 'news')",
        domain_ok, email_ok, f"(lower({email}) is null or contains(lower({email}), '@'))",
        f"({_domain(domain)} is not null or lower({email}) is not null)",
        "\"t_strength\" in ('VARCHAR', 'UBIGINT', 'BIGINT', 'DOUBLE')",
        "regexp_full_match(\"v_strength\", '\\d{1,3}(\\.\\d{1,3})?')",
        _timestamp_ok("occurred_at"),
        f"({_absent('expires_at')} or ({_string('expires_at')} and \"v_expires_at\" = '')"
        " or "
        f"({_timestamp_ok('expires_at', numbers=False)}"
        f" and {_timestamp('expires_at')} >= {_timestamp('occurred_at')}))",
        _text_ok("topic"), _text_ok("provider"),
    ])
    return _Query(fields, select, ok, known=frozenset(fields))


def _first_string(*fields: str) -> tuple[str, str]:
    """`a.get(x) or b.get(y) or …` where each must be a string or absent: (the first non-empty, whether all are
    strings, empty or absent)."""
    value = "coalesce(" + ", ".join(f"case when {_string(f)} then nullif(\"v_{f}\", '') end" for f in fields) + ")"
    return value, "(" + " and ".join(_text_ok(f) for f in fields) + ")"


def _object_ok(f: str, path: str = "$") -> str:
    """The value is an object (or absent) without duplicate keys (Python's dict keeps the last, DuckDB reads the
    first)."""
    keys = f"json_keys(\"j_{f.split('.')[0]}\", '{path}')"
    return f"({_absent(f)} or (\"t_{f}\" = 'OBJECT' and len({keys}) = len(list_distinct({keys}))))"


def _website_events() -> _Query:
    fields = ("type", "userId", "anonymousId", "event", "properties", "traits", "context", "timestamp",
              "originalTimestamp", "sentAt", "messageId", "name", "category", "batch",
              "properties.url", "properties.path", "properties.title", "properties.referrer", "properties.email",
              "traits.email", "context.page", "context.traits", "context.page.url", "context.page.path",
              "context.page.title", "context.page.referrer", "context.traits.email")
    email, email_ok = _first_string("traits.email", "context.traits.email", "properties.email")
    stamp, stamp_ok = _first_string("timestamp", "originalTimestamp")
    pages = {k: _first_string(f"properties.{k}", f"context.page.{k}") for k in ("url", "path", "title", "referrer")}
    stamp_at = f"try_cast(replace(regexp_replace({stamp}, '(Z|\\+00:00)$', ''), 'T', ' ') as timestamp)"
    sent_at = f"case when {_string('sentAt')} and \"v_sentAt\" <> '' then {_timestamp('sentAt')} end"
    select = f"""
        $org as organization_id, "v_messageId" as message_id, "v_type" as type, {_text('event')} as event,
        {_text('anonymousId')} as anonymous_id, {_text('userId')} as user_id, lower({email}) as email,
        {pages['url'][0]} as url, {pages['path'][0]} as path, {pages['title'][0]} as title,
        {pages['referrer'][0]} as referrer,
        coalesce("j_properties"::varchar, '{{}}') as properties, coalesce("j_traits"::varchar, '{{}}') as traits,
        coalesce("j_context"::varchar, '{{}}') as context,
        coalesce({stamp_at}, {sent_at}, $received) as occurred_at, {sent_at} as sent_at, $received as received_at"""
    ok = " and ".join([
        "\"v_type\" in ('page', 'track', 'identify')", _string("type"), _absent("batch"),
        _text_ok("userId"), _text_ok("anonymousId"),
        "coalesce(nullif(\"v_userId\", ''), nullif(\"v_anonymousId\", '')) is not null",
        _text_ok("event"), "(\"v_type\" <> 'track' or (\"t_event\" = 'VARCHAR' and \"v_event\" <> ''))",
        _object_ok("properties"), _object_ok("traits"), _object_ok("context"),
        _object_ok("context.page", "$.page"), _object_ok("context.traits", "$.traits"),
        stamp_ok, f"({stamp} is null or (regexp_full_match({stamp}, '{_ISO}') and {stamp_at} is not null))",
        # an empty string where a stamp could be is left to Python (`"" or ""` is a stamp it rejects)
        f"not ({stamp} is null and ((\"t_timestamp\" = 'VARCHAR') or (\"t_originalTimestamp\" = 'VARCHAR')))",
        f"({_absent('sentAt')} or ({_string('sentAt')} and \"v_sentAt\" = '') or "
        f"{_timestamp_ok('sentAt', numbers=False)})",
        _string("messageId"), "\"v_messageId\" <> ''", "length(\"v_messageId\") <= 100",
        "(\"v_type\" <> 'page' or ((" + _absent("name") + " or \"v_name\" = '') and (" + _absent("category")
        + " or \"v_category\" = '')))",
        email_ok, f"({email} is null or regexp_full_match({email}, '[!-~]([ -~]*[!-~])?'))",
        *(ok for _, ok in pages.values()),
    ])
    return _Query(fields, select, ok, reads_csv=False)


def _cell(name: str) -> str:
    """`_typed` of enrichment.py on a CSV cell, as JSON: integers, `a;b` lists, else the text (NULL: left out)."""
    v = f"\"v_{name}\""
    parts = f"list_filter(list_transform(string_split({v}, ';'), lambda x: trim(x, ' ')), lambda x: x <> '')"
    return (f"case when {v} is null then null::json"
            f" when regexp_full_match({v}, '-?[0-9]+') and length({v}) < 16 then to_json(cast({v} as bigint))"
            f" when contains({v}, ';') then to_json({parts})"
            f" else to_json({v}) end")


def _cell_ok(name: str) -> str:
    # ASCII only: str.isdigit() and int() read other scripts' digits too; `--5` makes Python's int() raise
    v = f"\"v_{name}\""
    return f"{v} is null or (regexp_full_match({v}, '[ -~]*') and not regexp_full_match({v}, '--+[0-9]+'))"


def _enrichment_payload(extra: list[str]) -> str:
    entries = ", ".join(f"struct_pack(k := '{n.replace(chr(39), chr(39) * 2)}', v := {_cell(n)})" for n in extra)
    if not entries:
        return "'{}'"
    return f"to_json(map_from_entries(list_filter([{entries}], lambda e: e.v is not null)))::varchar"


def _enrichment() -> _Query:
    fields = ("entity_type", "provider", "fetched_at", "email", "domain")
    domain = _domain('"v_domain"')
    select = f"""
        $org as organization_id, lower("v_entity_type") as entity_type, lower("v_provider") as provider,
        {_timestamp('fetched_at')} as fetched_at, lower("v_email") as email, {domain} as domain,
        '{{}}' as payload"""
    ok = " and ".join([
        _plain("entity_type"), "lower(\"v_entity_type\") in ('person', 'company')",
        _plain("provider"), "\"v_provider\" <> ''", _timestamp_ok("fetched_at"),
        f"({_absent('email')} or {_plain('email')})", f"({_absent('domain')} or {_plain('domain')})",
        "(lower(\"v_entity_type\") <> 'person' or nullif(\"v_email\", '') is not null)",
        f"(lower(\"v_entity_type\") <> 'company' or {domain} is not null)",
        "(nullif(\"v_email\", '') is null or contains(\"v_email\", '@'))",
    ])
    return _Query(fields, select, ok, reads_json=False, csv_payload=_enrichment_payload)


_QUERIES: dict[str, _Query] = {"email_events": _email_events(), "intent_signals": _intent(),
                               "website_events": _website_events(), "enrichment_records": _enrichment()}

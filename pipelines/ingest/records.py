"""Split a landing file into records with their position (line number or byte offset).

A file is *corrupt* (rejected whole) when its container cannot be read: an unparseable JSON array, a
CSV without the required header. A single bad line of a JSON-lines file is one rejected record.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


class CorruptFile(ValueError):
    """The whole file is unreadable; nothing from it may be loaded."""


@dataclass(frozen=True)
class Record:
    value: Any
    line_number: int | None
    byte_offset: int | None
    raw: str


@dataclass(frozen=True)
class Reject:
    line_number: int | None
    byte_offset: int | None
    reason: str
    payload: str


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorruptFile(f"not UTF-8: {exc}") from None


def json_records(data: bytes, *, lines: bool, unwrap: str | None = None) -> Iterator[Record | Reject]:
    """Records of a `.json` file (one document: an array or an object) or a `.jsonl` file (one value a line).

    An array, or an object with the `unwrap` key (Segment's `{"batch": [...]}`), yields each element as
    its own record (position: the line, and the element index as offset).
    """
    text = _decode(data)
    if not lines:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CorruptFile(f"invalid JSON document: {exc}") from None
        yield from _expand(document, 1, 0, unwrap)
        return
    offset = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        start, offset = offset, offset + len(line.encode())
        yield from json_line(line, number, start, unwrap)


def json_line(line: str, number: int, start: int, unwrap: str | None = None) -> Iterator[Record | Reject]:
    """The records of one line of a JSON-lines file (none for a blank line), `start` being its byte offset."""
    if not line.strip():
        return
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        yield Reject(number, start, f"invalid JSON: {exc.msg}", line.rstrip("\r\n")[:10000])
        return
    yield from _expand(value, number, start, unwrap, line.rstrip("\r\n"))


def _expand(value: Any, line: int, offset: int, unwrap: str | None, raw: str | None = None):
    if isinstance(value, list):
        for index, item in enumerate(value):
            # position inside a batch: the line of the batch, and the element index as offset
            yield Record(item, line, index, json.dumps(item, separators=(",", ":")))
    elif unwrap and isinstance(value, dict) and isinstance(value.get(unwrap), list):
        shared = {k: v for k, v in value.items() if k not in (unwrap, "writeKey")}
        for index, item in enumerate(value[unwrap]):
            merged = {**shared, **item} if isinstance(item, dict) else item
            yield Record(merged, line, index, json.dumps(item, separators=(",", ":")))
    else:
        yield Record(value, line, offset, raw if raw is not None else json.dumps(value, separators=(",", ":")))


def csv_records(data: bytes, *, required: set[str]) -> Iterator[Record]:
    """Rows of a CSV with a header, as dicts of non-empty strings; a missing required column is corrupt."""
    text = _decode(data)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = set(reader.fieldnames or ())
    missing = required - header
    if missing:
        raise CorruptFile(f"CSV header lacks required columns: {', '.join(sorted(missing))}")
    previous_line = 1
    for row in reader:
        if None in row:
            extra = row.pop(None)
            yield Record({"__extra__": extra, **row}, previous_line + 1, None, json.dumps(row))
        else:
            values = {k: v.strip() for k, v in row.items() if v is not None and v.strip() != ""}
            yield Record(values, previous_line + 1, None, json.dumps(row, separators=(",", ":")))
        previous_line = reader.line_num


def records_for(name: str, data: bytes, *, required_csv: set[str], unwrap: str | None = None):
    lower = name.lower()
    if lower.endswith(".csv"):
        return csv_records(data, required=required_csv)
    if lower.endswith(".json"):
        return json_records(data, lines=False, unwrap=unwrap)
    if lower.endswith((".jsonl", ".ndjson")):
        return json_records(data, lines=True, unwrap=unwrap)
    raise CorruptFile(f"unsupported file type: {name}")

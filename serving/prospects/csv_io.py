"""CSV import parsing and export formatting for prospects (pure: bytes in, rows and errors out)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from models.csv_files import CsvFileError, columns_found, read_text
from serving.core.errors import ValidationFailed
from serving.prospects.schemas import ProspectCreate

# Column names accepted in an import file, normalised (lower case, letters and digits only).
IMPORT_COLUMNS = {
    "email": "email", "emailaddress": "email",
    "firstname": "first_name", "lastname": "last_name",
    "phone": "phone", "phonenumber": "phone",
    "linkedinurl": "linkedin_url", "linkedin": "linkedin_url",
    "title": "title", "jobtitle": "title",
    "company": "company", "companyname": "company",
    "department": "department", "seniority": "seniority",
    "city": "city", "country": "country", "timezone": "timezone",
    "source": "source", "leadsource": "source",
    "status": "status", "relationshipstage": "relationship_stage",
}
# Read-only columns of our own export: accepted so an export can be re-imported, then ignored.
IGNORED_COLUMNS = {"id", "priorityscore", "intentscore", "intenttier", "qualificationscore", "ownerid",
                   "accountid", "createdat", "updatedat"}
CUSTOM_PREFIX = re.compile(r"^custom[._:]", re.IGNORECASE)
EXPORT_COLUMNS = [
    "id", "email", "first_name", "last_name", "phone", "linkedin_url", "title", "company", "department",
    "seniority", "city", "country", "timezone", "source", "status", "relationship_stage", "priority_score",
    "intent_score", "intent_tier", "qualification_score", "owner_id", "account_id", "created_at", "updated_at",
]
_FORMULA_START = ("=", "@", "\t", "\r")


@dataclass
class ParsedImport:
    rows: list[tuple[int, ProspectCreate]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    total_rows: int = 0


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _header_mapping(header: list[str], *, read_as: str) -> list[tuple[str, str | None]]:
    """(target, custom-field key) per column; rejects the whole file when the header is unusable.
    Errors list the columns found: a wrong delimiter or encoding shows in them at a glance."""
    if not header or all(not h.strip() for h in header):
        raise ValidationFailed("the file has no header row", code="INVALID_CSV_HEADER",
                               details={"columnsFound": header})
    mapping: list[tuple[str, str | None]] = []
    seen: dict[str, str] = {}
    unknown = []
    for raw in header:
        name = raw.strip()
        if CUSTOM_PREFIX.match(name):
            key = CUSTOM_PREFIX.sub("", name).strip()
            target, custom = f"custom:{key}", key
        elif _normalise(name) in IGNORED_COLUMNS:
            mapping.append(("", None))
            continue
        else:
            target, custom = IMPORT_COLUMNS.get(_normalise(name), ""), None
            if not target:
                unknown.append(name)
                continue
        if target in seen:
            raise ValidationFailed(f"columns '{seen[target]}' and '{name}' both map to {target}",
                                   code="INVALID_CSV_HEADER", details={"columns": [seen[target], name]})
        seen[target] = name
        mapping.append((target, custom))
    if unknown:
        raise ValidationFailed(
            "unknown columns in header: " + ", ".join(repr(u) for u in unknown)
            + f" (read with {read_as})",
            code="INVALID_CSV_HEADER",
            details={"unknownColumns": unknown, "columnsFound": header,
                     "accepted": sorted(set(IMPORT_COLUMNS.values())),
                     "customFields": "prefix a column with 'custom.' to store it in customFields"},
        )
    if "email" not in seen:
        raise ValidationFailed(
            f"the header has no email column; {columns_found(header, read_as=read_as)}",
            code="INVALID_CSV_HEADER", details={"required": ["email"], "columnsFound": header})
    return mapping


def _needs_quote_prefix(text: str) -> bool:
    """Cells a spreadsheet would run as a formula, and cells that would read back as escaped ones."""
    if text.startswith(_FORMULA_START):
        return True
    if text[:1] in ("+", "-"):
        return not re.fullmatch(r"[+-][\d .()-]+", text)
    return text.startswith("'") and _needs_quote_prefix(text[1:])


def _unescape(value: str) -> str:
    # Exports prefix formula-like cells with a quote; take it off again on the way in.
    if value.startswith("'") and _needs_quote_prefix(value[1:]):
        return value[1:]
    return value


def parse_import(data: bytes, *, delimiter: str | None = None, encoding: str | None = None) -> ParsedImport:
    """Rows and row errors of an import file; delimiter and encoding are detected unless given."""
    try:
        source = read_text(data, delimiter=delimiter, encoding=encoding)
    except CsvFileError as exc:
        raise ValidationFailed(exc.message, code=exc.code, details=exc.details) from None
    reader = source.rows()
    try:
        header = next(reader, [])
        mapping = _header_mapping(header, read_as=source.describe())
        result = ParsedImport()
        first_seen: dict[str, int] = {}
        end_of_previous = reader.line_num
        for values in reader:
            # A quoted cell may span lines; report the line where the record starts.
            line, end_of_previous = end_of_previous + 1, reader.line_num
            if not any(v.strip() for v in values):
                continue
            result.total_rows += 1
            if len(values) != len(header):
                result.errors.append({"row": line, "field": None, "value": None,
                                      "reason": f"expected {len(header)} columns, found {len(values)}"})
                continue
            _parse_row(line, mapping, values, result, first_seen)
    except csv.Error as exc:
        raise ValidationFailed(f"the file is not valid CSV ({source.describe()}): {exc}", code="INVALID_CSV",
                               details={"line": reader.line_num}) from None
    return result


def _parse_row(line, mapping, values, result: ParsedImport, first_seen: dict[str, int]) -> None:
    record: dict[str, Any] = {}
    custom: dict[str, str] = {}
    for (target, custom_key), value in zip(mapping, values, strict=True):
        value = _unescape(value.strip())
        if not target:
            continue
        if custom_key is not None:
            if value:
                custom[custom_key] = value
        elif value:
            record[target] = value
    if custom:
        record["custom_fields"] = custom
    try:
        prospect = ProspectCreate.model_validate(record)
    except ValidationError as exc:
        for err in exc.errors():
            field_name = ".".join(str(p) for p in err["loc"]) or None
            result.errors.append({"row": line, "field": field_name, "reason": err["msg"],
                                  "value": None if field_name is None else record.get(field_name)})
        return
    if prospect.email in first_seen:
        result.errors.append({"row": line, "field": "email", "value": prospect.email,
                              "reason": f"duplicate of row {first_seen[prospect.email]} in this file"})
        return
    first_seen[prospect.email] = line
    result.rows.append((line, prospect))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if _needs_quote_prefix(text) else text


def export_rows(prospects: Iterable[Any]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    yield buffer.getvalue()
    for prospect in prospects:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(getattr(prospect, column)) for column in EXPORT_COLUMNS])
        yield buffer.getvalue()

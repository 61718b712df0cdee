"""Enrichment provider records (person or company; CSV or JSON) → `raw.enrichment_records` rows.

The merge into one profile per prospect/account (per-field provider priority, freshest wins ties) is the
dbt model `int_enrichment__fields_ranked`; here we only validate and keep every field as fetched.
"""

from __future__ import annotations

import json
from typing import Any

from pipelines.ingest.intent import normalize_domain
from serving.events.records import InvalidRecord, parse_timestamp

ENTITY_TYPES = frozenset({"person", "company"})
COLUMNS = ("organization_id", "entity_type", "provider", "fetched_at", "email", "domain", "payload")
CSV_REQUIRED = {"entity_type", "provider", "fetched_at"}
ENVELOPE = {"entity_type", "provider", "fetched_at", "email", "domain"}


def enrichment_row(record: Any, *, organization_id: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise InvalidRecord("record is not an object")
    if "__extra__" in record:
        raise InvalidRecord("row has more fields than the header")
    entity = str(record.get("entity_type") or "").strip().lower()
    if entity not in ENTITY_TYPES:
        raise InvalidRecord(f"unknown entity_type {record.get('entity_type')!r}")
    provider = str(record.get("provider") or "").strip().lower()
    if not provider:
        raise InvalidRecord("missing provider")
    fetched_at = parse_timestamp(record.get("fetched_at"))
    email = record.get("email")
    email = email.strip().lower() if isinstance(email, str) and email.strip() else None
    domain = normalize_domain(record.get("domain"))
    if entity == "person" and not email:
        raise InvalidRecord("person record without email")
    if entity == "company" and not domain:
        raise InvalidRecord("company record without domain")
    if email and "@" not in email:
        raise InvalidRecord(f"invalid email {email!r}")
    fields = record.get("data") if isinstance(record.get("data"), dict) else {
        k: v for k, v in record.items() if k not in ENVELOPE}
    fields = {k: _typed(v) for k, v in fields.items() if v not in (None, "", [], {})}
    return {"organization_id": organization_id, "entity_type": entity, "provider": provider, "fetched_at": fetched_at,
            "email": email, "domain": domain, "payload": json.dumps(fields, separators=(",", ":"), default=str)}


def _typed(value: Any) -> Any:
    """CSV cells arrive as text: numbers become numbers, `a;b` lists (technologies) become arrays."""
    if not isinstance(value, str):
        return value
    if value.lstrip("-").isdigit() and len(value) < 16:
        return int(value)
    if ";" in value:
        return [part.strip() for part in value.split(";") if part.strip()]
    return value

"""Intent-signal feed records (CSV or JSON) → `raw.intent_signals` rows."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from serving.core.raw_landing import INTENT_SIGNAL_COLUMNS
from serving.events.records import InvalidRecord, parse_timestamp

SIGNAL_TYPES = frozenset({"website_visit", "linkedin_engagement", "job_posting", "technographic_change", "funding",
                          "news"})
COLUMNS = INTENT_SIGNAL_COLUMNS  # one list with the API's writer (knowledge-base buying signals)
CSV_REQUIRED = {"signal_type", "strength", "occurred_at"}
KNOWN = {"signal_type", "account_domain", "domain", "prospect_email", "email", "topic", "strength", "occurred_at",
         "expires_at", "provider"}


def normalize_domain(value: Any) -> str | None:
    if not value or not isinstance(value, str):
        return None
    domain = value.strip().lower()
    for prefix in ("https://", "http://"):
        domain = domain.removeprefix(prefix)
    return domain.removeprefix("www.").split("/")[0] or None


def intent_row(record: Any, *, organization_id: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise InvalidRecord("record is not an object")
    if "__extra__" in record:
        raise InvalidRecord("row has more fields than the header")
    kind = str(record.get("signal_type") or "").strip().lower()
    if kind not in SIGNAL_TYPES:
        raise InvalidRecord(f"unknown signal_type {record.get('signal_type')!r}")
    domain = normalize_domain(record.get("account_domain") or record.get("domain"))
    email = record.get("prospect_email") or record.get("email")
    email = email.strip().lower() if isinstance(email, str) and email.strip() else None
    if email and "@" not in email:
        raise InvalidRecord(f"invalid prospect_email {email!r}")
    if not domain and not email:
        raise InvalidRecord("account_domain or prospect_email is required")
    try:
        strength = Decimal(str(record.get("strength")))
    except InvalidOperation:
        raise InvalidRecord(f"strength is not a number: {record.get('strength')!r}") from None
    if not strength.is_finite() or strength < 0 or strength >= 1000:
        raise InvalidRecord(f"strength out of range: {record.get('strength')!r}")
    occurred_at = parse_timestamp(record.get("occurred_at"))
    expires_at = parse_timestamp(record["expires_at"]) if record.get("expires_at") else None
    if expires_at is not None and expires_at < occurred_at:
        raise InvalidRecord("expires_at is before occurred_at")
    extra = {k: v for k, v in record.items() if k not in KNOWN}
    return {
        "organization_id": organization_id, "signal_type": kind, "account_domain": domain, "prospect_email": email,
        "topic": str(record["topic"]) if record.get("topic") else None, "strength": strength,
        "occurred_at": occurred_at, "expires_at": expires_at,
        "provider": str(record["provider"]) if record.get("provider") else None,
        "payload": json.dumps(extra, separators=(",", ":"), default=str),
    }

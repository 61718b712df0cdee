"""Event intake rules: size limits, write-key extraction, signature verification, landing rows in `raw`.

No HTTP here: functions raise `serving.core.errors` exceptions; the request boundary commits once.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from sqlalchemy.orm import Session

from serving.core import raw_landing
from serving.core.errors import AppError, Forbidden
from serving.core.validation import UNSTORABLE_MESSAGE, unstorable_path
from serving.events.records import (
    EMAIL_EVENT_COLUMNS,
    WEBSITE_EVENT_COLUMNS,
    InvalidRecord,
    segment_row,
    sendgrid_row,
)

MAX_CALL_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_EVENTS = 2500
SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"


class BadEventRequest(AppError):
    status_code = 400
    code = "BAD_REQUEST"


class UnsupportedEncoding(AppError):
    status_code = 415
    code = "UNSUPPORTED_ENCODING"


def _decoded(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """The body as sent before compression (Segment's libraries may gzip; analytics.js does not).

    Inflates at most `limit + 1` bytes, so a small compressed bomb cannot make us allocate more than that.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise UnsupportedEncoding(f"unsupported Content-Encoding {content_encoding!r} (send gzip or none)",
                                  details={"contentEncoding": content_encoding})
    # wbits 47 reads gzip and zlib (deflate) headers alike
    inflater = zlib.decompressobj(wbits=47)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadEventRequest(f"body is not valid {encoding}: {exc}", code="INVALID_ENCODING") from None
    if len(data) <= limit and not inflater.eof:
        raise BadEventRequest(f"body is not valid {encoding}: truncated", code="INVALID_ENCODING")
    return data


def parse_body(body: bytes, *, batch: bool, content_encoding: str | None = None) -> Any:
    limit = MAX_BATCH_BYTES if batch else MAX_CALL_BYTES
    body = _decoded(body, content_encoding, limit)
    if len(body) > limit:
        raise BadEventRequest(f"payload too large: {len(body)} bytes (limit {limit})", code="PAYLOAD_TOO_LARGE")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadEventRequest(f"invalid JSON: {exc}", code="INVALID_JSON") from None


def write_key(*, api_key_header: str | None, authorization: str | None, body: Any) -> str | None:
    """X-API-Key, HTTP Basic `writeKey:` (Segment's convention), or the body's `writeKey`, in that order."""
    if api_key_header:
        return api_key_header.strip()
    scheme, _, credential = (authorization or "").partition(" ")
    if scheme.lower() == "basic" and credential:
        try:
            user = base64.b64decode(credential.strip()).decode().split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            user = ""
        if user:
            return user
    if isinstance(body, dict) and isinstance(body.get("writeKey"), str):
        return body["writeKey"]
    return None


def segment_messages(body: Any, *, kind: str | None) -> list[Any]:
    """The messages of one call: the body itself (type from the endpoint) or the items of a batch."""
    if not isinstance(body, dict):
        raise BadEventRequest("the body must be a JSON object", code="INVALID_JSON")
    if kind is not None:
        return [{**body, "type": kind}]
    items = body.get("batch")
    if not isinstance(items, list):
        raise BadEventRequest("a batch call needs a `batch` array", code="INVALID_JSON")
    if len(items) > MAX_BATCH_EVENTS:
        raise BadEventRequest(f"a batch holds at most {MAX_BATCH_EVENTS} events", code="PAYLOAD_TOO_LARGE")
    shared = {k: v for k, v in body.items() if k not in ("batch", "writeKey")}
    return [{**shared, **item} if isinstance(item, dict) else item for item in items]


def verify_sendgrid_signature(*, public_key_b64: str, signature_b64: str | None, timestamp: str | None,
                              body: bytes) -> None:
    """ECDSA P-256 / SHA-256 over `timestamp + raw body`; raises Forbidden when it does not verify."""
    if not signature_b64 or not timestamp:
        raise Forbidden("missing SendGrid signature headers", code="INVALID_SIGNATURE")
    try:
        key = load_der_public_key(base64.b64decode(public_key_b64))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ValueError("not an EC key")
        key.verify(base64.b64decode(signature_b64), timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, binascii.Error):
        raise Forbidden("SendGrid signature does not verify", code="INVALID_SIGNATURE") from None


def _insert(db: Session, table: str, columns: tuple[str, ...], rows: list[dict], *, request_id: str,
            source: str) -> int:
    quarantine = table == "raw.rejected_records"  # every reject is kept, and its payload is text
    return raw_landing.insert_rows(db, table, columns, rows, source=source, request_id=request_id,
                                   deduplicate=not quarantine,
                                   json_columns=frozenset() if quarantine else raw_landing.JSON_COLUMNS)


def _reject(db: Session, rejects: list[dict], *, request_id: str, source: str) -> None:
    _insert(db, "raw.rejected_records", ("line_number", "byte_offset", "reason", "payload"), rejects,
            request_id=request_id, source=source)


def _storable(message: Any) -> None:
    """Quarantine, rather than fail the whole batch on, a message jsonb cannot hold (NUL, unpaired surrogate);
    its quarantined payload is `json.dumps` text, where those are plain `\\u` escapes."""
    where = unstorable_path(message)
    if where is not None:
        raise InvalidRecord(f"{'.'.join(map(str, where)) or 'message'}: {UNSTORABLE_MESSAGE}")


def store_segment(db: Session, messages: list[Any], *, organization_id: str, request_id: str) -> dict[str, int]:
    now = datetime.now(UTC)
    rows, rejects = [], []
    for index, message in enumerate(messages):
        try:
            # Segment's per-call limit holds inside a batch too; the rest of the batch is still stored
            if len(json.dumps(message)) > MAX_CALL_BYTES:
                raise InvalidRecord(f"message larger than {MAX_CALL_BYTES // 1024} KB")
            _storable(message)
            rows.append(segment_row(message, organization_id=organization_id, received_at=now,
                                    correct_clock_skew=True))
        except InvalidRecord as exc:
            rejects.append({"line_number": None, "byte_offset": index, "reason": str(exc),
                            "payload": json.dumps(message)[:10000]})
    stored = _insert(db, "raw.website_events", WEBSITE_EVENT_COLUMNS, rows, request_id=request_id,
                     source="website_events")
    _reject(db, rejects, request_id=request_id, source="website_events")
    return {"stored": stored, "duplicates": len(rows) - stored, "rejected": len(rejects)}


def store_sendgrid(db: Session, events: Any, *, request_id: str) -> dict[str, int]:
    if not isinstance(events, list):
        raise BadEventRequest("SendGrid posts a JSON array of events", code="INVALID_JSON")
    rows, rejects = [], []
    for index, event in enumerate(events):
        try:
            _storable(event)
            rows.append(sendgrid_row(event, organization_id=None))
        except InvalidRecord as exc:
            rejects.append({"line_number": None, "byte_offset": index, "reason": str(exc),
                            "payload": json.dumps(event)[:10000]})
    stored = _insert(db, "raw.email_events", EMAIL_EVENT_COLUMNS, rows, request_id=request_id,
                     source="email_events")
    _reject(db, rejects, request_id=request_id, source="email_events")
    return {"stored": stored, "duplicates": len(rows) - stored, "rejected": len(rejects)}

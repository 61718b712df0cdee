"""Normalize one SendGrid event or one Segment message into a `raw` row (shared by the API and file ingest).

Pure functions: a record in, a row dict out, or `InvalidRecord` with the reason it cannot be stored.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from serving.core.raw_landing import EMAIL_EVENT_COLUMNS, WEBSITE_EVENT_COLUMNS

__all__ = ["EMAIL_EVENT_COLUMNS", "WEBSITE_EVENT_COLUMNS", "InvalidRecord", "segment_row", "sendgrid_row"]

SENDGRID_EVENTS = frozenset({
    "processed", "deferred", "delivered", "open", "click", "bounce", "dropped", "spamreport", "unsubscribe",
    "group_unsubscribe", "group_resubscribe", "reply",
})
SEGMENT_TYPES = frozenset({"page", "track", "identify", "group", "alias", "screen"})
MAX_MESSAGE_ID = 100

class InvalidRecord(ValueError):
    """The record cannot be stored; the message is the reason recorded in quarantine."""


def _uuid_or_none(value: Any) -> str | None:
    if value in (None, ""):
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else json.dumps(value)


def parse_timestamp(value: Any) -> datetime:
    """ISO 8601 (strict: `2015-2-02` is rejected) or Unix seconds, as timezone-aware UTC."""
    if isinstance(value, bool) or value is None or value == "":
        raise InvalidRecord("missing timestamp")
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            raise InvalidRecord(f"timestamp out of range: {value!r}") from None
    if not isinstance(value, str):
        raise InvalidRecord(f"invalid timestamp: {value!r}")
    text = value.strip()
    if len(text) < 10 or text[4] != "-" or text[7] != "-":
        raise InvalidRecord(f"invalid ISO 8601 timestamp: {value!r}")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRecord(f"invalid ISO 8601 timestamp: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def sendgrid_row(event: Any, *, organization_id: str | None, raw: str | None = None) -> dict[str, Any]:
    """One SendGrid Event Webhook event → a `raw.email_events` row."""
    if not isinstance(event, dict):
        raise InvalidRecord("event is not a JSON object")
    kind = str(event.get("event") or "").strip().lower()
    if kind not in SENDGRID_EVENTS:
        raise InvalidRecord(f"unknown event type {event.get('event')!r}")
    sg_event_id = event.get("sg_event_id")
    if not sg_event_id or not isinstance(sg_event_id, str):
        raise InvalidRecord("missing sg_event_id")
    occurred_at = parse_timestamp(event.get("timestamp"))
    # our own custom_args (set when we send: `revorc_*`, or plain names from other senders) arrive as
    # top-level keys of the event
    org = organization_id or _uuid_or_none(event.get("revorc_organization_id") or event.get("organization_id"))
    return {
        "organization_id": org,
        "sg_event_id": sg_event_id,
        "sg_message_id": _text(event.get("sg_message_id")),
        "event": kind,
        "email": (str(event["email"]).strip().lower() or None) if event.get("email") else None,
        "occurred_at": occurred_at,
        "email_id": _uuid_or_none(event.get("revorc_email_id") or event.get("email_id")),
        "prospect_id": _uuid_or_none(event.get("prospect_id")),
        "campaign_id": _uuid_or_none(event.get("campaign_id")),
        "cadence_id": _uuid_or_none(event.get("cadence_id")),
        "template_id": _uuid_or_none(event.get("template_id")),
        "url": _text(event.get("url")),
        "reason": _text(event.get("reason") or event.get("response")),
        "status": _text(event.get("status")),
        "bounce_type": _text(event.get("type")) if kind == "bounce" else None,
        "useragent": _text(event.get("useragent")),
        "ip": _text(event.get("ip")),
        "payload": raw if raw is not None else json.dumps(event, separators=(",", ":")),
    }


def _dict(value: Any, name: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRecord(f"{name} must be an object")
    return value


def segment_row(message: Any, *, organization_id: str | None, received_at: datetime,
                correct_clock_skew: bool = False) -> dict[str, Any]:
    """One Segment spec message (page, track, identify, group, alias, screen) → a `raw.website_events` row.

    A message without `messageId` gets a deterministic one (a digest of its content), so re-sending the
    same message is still de-duplicated. With `correct_clock_skew` (the message is being received live, so
    `received_at` is when it arrived), a message that carries only the device's `originalTimestamp` and
    `sentAt` occurred at `received_at - (sentAt - originalTimestamp)`, as Segment and RudderStack compute
    it; a `timestamp` given by the sender is kept as is.
    """
    if not isinstance(message, dict):
        raise InvalidRecord("message is not a JSON object")
    kind = message.get("type")
    if kind not in SEGMENT_TYPES:
        raise InvalidRecord(f"unknown message type {kind!r}")
    user_id, anonymous_id = message.get("userId"), message.get("anonymousId")
    if user_id in (None, "") and anonymous_id in (None, ""):
        raise InvalidRecord("userId or anonymousId is required")
    if kind == "track" and not message.get("event"):
        raise InvalidRecord("track requires an event name")
    properties = _dict(message.get("properties"), "properties")
    traits = _dict(message.get("traits"), "traits")
    context = _dict(message.get("context"), "context")
    stamp = message.get("timestamp") or message.get("originalTimestamp")
    occurred_at = parse_timestamp(stamp) if stamp is not None else None
    sent_at = parse_timestamp(message["sentAt"]) if message.get("sentAt") else None
    if correct_clock_skew and not message.get("timestamp") and occurred_at and sent_at:
        occurred_at = received_at - (sent_at - occurred_at)
    occurred_at = occurred_at or sent_at or received_at
    message_id = message.get("messageId")
    if message_id in (None, ""):
        canonical = json.dumps({k: v for k, v in message.items() if k != "writeKey"}, sort_keys=True)
        message_id = "derived-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]
    message_id = str(message_id)
    if len(message_id) > MAX_MESSAGE_ID:
        raise InvalidRecord(f"messageId longer than {MAX_MESSAGE_ID} characters")
    page = _dict(context.get("page"), "context.page")
    context_traits = _dict(context.get("traits"), "context.traits")
    email = traits.get("email") or context_traits.get("email") or properties.get("email")
    # The ids and names that have no column of their own ride in `properties` under their spec names
    # (page/screen `name`, group `groupId`, alias `previousId`), so no call loses what identifies it.
    extra = {"name": message.get("name"), "category": message.get("category")} if kind in ("page", "screen") else {}
    if kind == "group":
        if message.get("groupId") in (None, ""):
            raise InvalidRecord("group requires a groupId")
        extra = {"groupId": message["groupId"]}
    if kind == "alias":
        if message.get("previousId") in (None, ""):
            raise InvalidRecord("alias requires a previousId")
        extra = {"previousId": message["previousId"]}
    properties = {**properties, **{k: v for k, v in extra.items() if v not in (None, "") and k not in properties}}
    return {
        "organization_id": organization_id,
        "message_id": message_id,
        "type": kind,
        "event": _text(message.get("event")),
        "anonymous_id": _text(anonymous_id),
        "user_id": _text(user_id),
        "email": str(email).strip().lower() if isinstance(email, str) and email.strip() else None,
        "url": _text(properties.get("url") or page.get("url")),
        "path": _text(properties.get("path") or page.get("path")),
        "title": _text(properties.get("title") or page.get("title")),
        "referrer": _text(properties.get("referrer") or page.get("referrer")),
        "properties": json.dumps(properties, separators=(",", ":")),
        "traits": json.dumps(traits, separators=(",", ":")),
        "context": json.dumps(context, separators=(",", ":")),
        "occurred_at": occurred_at,
        "sent_at": sent_at,
        "received_at": received_at,
    }

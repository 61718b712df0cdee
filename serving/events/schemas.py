"""Responses of the event intake endpoints (requests are free-form Segment/SendGrid JSON, validated per item)."""

from __future__ import annotations

from pydantic import BaseModel


class Accepted(BaseModel):
    success: bool = True


# Request bodies, for the OpenAPI document: these endpoints read the raw bytes (the SendGrid signature covers
# them, Segment libraries post what they post) and check each message themselves, quarantining the unusable
# ones in `raw`, so any JSON object of this shape is accepted.
_OBJECT: dict = {"type": "object", "additionalProperties": True}
_SEGMENT_FIELDS: dict = {
    "type": {"type": "string", "enum": ["track", "page", "screen", "identify", "group", "alias"]},
    "userId": {"type": ["string", "null"], "maxLength": 255},
    "anonymousId": {"type": ["string", "null"], "maxLength": 255},
    "event": {"type": "string", "maxLength": 255, "description": "track: the event name"},
    "name": {"type": "string", "maxLength": 255, "description": "page/screen: the page name"},
    "groupId": {"type": "string", "maxLength": 255, "description": "group: the account's id"},
    "previousId": {"type": "string", "maxLength": 255, "description": "alias: the id being merged into userId"},
    "properties": _OBJECT,
    "traits": _OBJECT,
    "context": _OBJECT,
    "timestamp": {"type": "string", "format": "date-time"},
    "messageId": {"type": "string", "maxLength": 255},
    "writeKey": {"type": "string", "description": "alternative to Basic auth / X-API-Key"},
}
SEGMENT_MESSAGE: dict = {"type": "object", "properties": _SEGMENT_FIELDS, "additionalProperties": True}
SEGMENT_BATCH: dict = {
    "type": "object",
    "required": ["batch"],
    "properties": {
        "batch": {"type": "array", "items": SEGMENT_MESSAGE, "maxItems": 2500},
        "context": _OBJECT,
        "writeKey": _SEGMENT_FIELDS["writeKey"],
    },
    "additionalProperties": True,
}
SENDGRID_EVENTS: dict = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "email": {"type": "string"},
            "event": {"type": "string", "description": "processed, delivered, open, click, bounce, dropped, …"},
            "timestamp": {"type": "integer", "minimum": 0, "maximum": 253402300799, "description": "Unix time"},
            "sg_event_id": {"type": "string"},
            "sg_message_id": {"type": "string"},
        },
        "additionalProperties": True,
    },
}


def json_body(schema: dict) -> dict:
    """`openapi_extra` declaring a required JSON request body."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}

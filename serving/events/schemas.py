"""Responses of the event intake endpoints (requests are free-form Segment/SendGrid JSON, validated per item)."""

from __future__ import annotations

from pydantic import BaseModel


class Accepted(BaseModel):
    success: bool = True

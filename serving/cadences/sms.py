"""Texts through Twilio's Messages API (the cadence SMS step's delivery; tests fake it at the HTTP boundary)."""

from __future__ import annotations

import httpx

from serving.core.config import Settings


class SmsRejected(Exception):
    """Twilio refused the message for good (invalid or unreachable number, opted out…): retrying cannot help."""


def send_sms(*, settings: Settings, to: str, body: str) -> str:
    """Twilio Messages API; returns the message SID.

    A 4xx answer other than 429 raises `SmsRejected` with Twilio's error code and message; 429, 5xx and
    network errors raise `httpx.HTTPError`, and the step is retried with backoff.
    """
    response = httpx.post(
        f"{settings.twilio_api_base.rstrip('/')}/2010-04-01/Accounts/{settings.twilio_account_sid}/Messages.json",
        data={"To": to, "From": settings.twilio_phone_number, "Body": body},
        auth=(settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value()),
        timeout=15.0,
    )
    if 400 <= response.status_code < 500 and response.status_code != 429:
        try:
            error = response.json()
        except ValueError:
            error = {}
        code = error.get("code")
        raise SmsRejected(f"Twilio error {code or response.status_code}: {error.get('message') or response.text}")
    response.raise_for_status()
    return response.json()["sid"]

"""SendGrid v3 Mail Send through the official `sendgrid` client.

Open/click tracking is done by us (signed links), so SendGrid's own tracking is switched off;
`custom_args` carry our email and organization ids back on every Event Webhook event, and the
delivery attempt id, by which the Email Activity API (`GET /v3/messages`, a paid add-on) finds a send
whose worker died before it recorded SendGrid's answer.
"""

from __future__ import annotations

import json
from datetime import datetime

from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient

from serving.core.config import Settings
from serving.emails.delivery import (
    Attempt,
    DeliveryResult,
    Found,
    PermanentDeliveryError,
    Prepared,
    SendLookup,
    TransientDeliveryError,
)

ATTEMPT_ARG = "revorc_attempt_id"


def activity_query(attempt_id: str) -> str:
    """The Email Activity filter for one custom argument (`unique_args['name']="value"`)."""
    return f"unique_args['{ATTEMPT_ARG}']=\"{attempt_id}\""


def _address(entry: dict) -> dict:
    out = {"email": entry["email"]}
    if entry.get("name"):
        out["name"] = entry["name"]
    return out


def request_body(message: Prepared, *, verified_sender: str | None = None) -> dict:
    """The v3 /mail/send JSON for a prepared message."""
    # custom_args go on the personalization: SendGrid's published schema types the top-level field
    # as a string, the per-personalization one as the object both accept.
    personalization: dict = {
        "to": [_address(r) for r in message.to],
        "custom_args": {
            **{k: str(v) for k, v in message.custom_args.items()},
            **({ATTEMPT_ARG: str(message.attempt_id)} if message.attempt_id else {}),
        },
    }
    if message.cc:
        personalization["cc"] = [_address(r) for r in message.cc]
    if message.bcc:
        personalization["bcc"] = [_address(r) for r in message.bcc]
    content = []
    if message.text:
        content.append({"type": "text/plain", "value": message.text})
    if message.html:
        content.append({"type": "text/html", "value": message.html})
    if not content:
        content.append({"type": "text/plain", "value": " "})
    headers = {"Message-ID": f"<{message.message_id}>", **message.headers}
    body: dict = {
        "personalizations": [personalization],
        "from": _address({"email": verified_sender or message.from_email, "name": message.from_name}),
        "subject": message.subject,
        "content": content,
        "headers": headers,
        "tracking_settings": {"click_tracking": {"enable": False}, "open_tracking": {"enable": False}},
    }
    if message.reply_to:
        body["reply_to"] = {"email": message.reply_to}
    elif verified_sender and verified_sender != message.from_email:
        body["reply_to"] = {"email": message.from_email}
    if message.categories:
        body["categories"] = message.categories[:10]
    return body


class SendGridBackend:
    name = "sendgrid"

    def __init__(self, settings: Settings) -> None:
        if not settings.sendgrid_api_key:
            raise ValueError("SENDGRID_API_KEY is not set")
        self.client = SendGridAPIClient(
            api_key=settings.sendgrid_api_key.get_secret_value(), host=settings.sendgrid_api_host.rstrip("/")
        )
        self.verified_sender = settings.sendgrid_verified_sender
        self.activity_lag = settings.sendgrid_activity_lag_seconds

    def deliver(self, message: Prepared) -> DeliveryResult:
        body = request_body(message, verified_sender=self.verified_sender)
        try:
            response = self.client.client.mail.send.post(request_body=body)
        except http_errors.HTTPError as exc:
            status = getattr(exc, "status_code", 0)
            detail = getattr(exc, "body", b"")
            if status == 429 or status >= 500:
                raise TransientDeliveryError(f"SendGrid {status}: {detail!r}") from None
            raise PermanentDeliveryError(f"SendGrid {status}: {detail!r}") from None
        except OSError as exc:
            raise TransientDeliveryError(f"SendGrid unreachable: {exc}") from None
        headers = {k.lower(): v for k, v in dict(response.headers or {}).items()}
        return DeliveryResult(provider=self.name, provider_message_id=headers.get("x-message-id"))

    def find_attempt(self, attempt: Attempt, *, now: datetime) -> SendLookup:
        try:
            response = self.client.client.messages.get(
                query_params={"query": activity_query(str(attempt.attempt_id)), "limit": 10}
            )
        except http_errors.HTTPError as exc:
            status = getattr(exc, "status_code", 0)
            if status == 429 or status >= 500:
                return SendLookup(Found.pending, detail=f"Email Activity API answered {status}")
            # 401/403/404: the key or the account has no Email Activity access
            return SendLookup(Found.unknown, detail=f"SendGrid Email Activity API not available ({status})")
        except OSError as exc:
            return SendLookup(Found.pending, detail=f"SendGrid unreachable: {exc}")
        messages = json.loads(response.body or b"{}").get("messages") or []
        if messages:
            provider_id = str(messages[0].get("msg_id") or "").split(".")[0] or None
            return SendLookup(Found.sent, provider_message_id=provider_id, detail="found in SendGrid's activity")
        if (now - attempt.claimed_at).total_seconds() < self.activity_lag:
            return SendLookup(Found.pending, detail="not (yet) in SendGrid's activity feed")
        return SendLookup(Found.not_sent, detail="not in SendGrid's activity feed")

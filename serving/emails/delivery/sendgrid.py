"""SendGrid v3 Mail Send through the official `sendgrid` client.

Open/click tracking is done by us (signed links), so SendGrid's own tracking is switched off;
`custom_args` carry our email and organization ids back on every Event Webhook event.
"""

from __future__ import annotations

from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient

from serving.core.config import Settings
from serving.emails.delivery import DeliveryResult, PermanentDeliveryError, Prepared, TransientDeliveryError


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
        "custom_args": {k: str(v) for k, v in message.custom_args.items()},
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

"""SMTP backend (`SMTP_URL=smtp://user:pass@host:587?starttls=true` or `smtps://…:465`), DKIM-signed.

The Message-ID is derived from the email id. SMTP has no way to ask a relay afterwards whether it
took a message, so an attempt whose worker died mid-send is `unknown` (the organization decides).
"""

from __future__ import annotations

import smtplib
import ssl
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dkim

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

SIGNED_HEADERS = [
    b"from",
    b"to",
    b"cc",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
]


def load_private_key(value: str) -> bytes:
    """DKIM_PRIVATE_KEY holds a PEM or a path to one."""
    if "-----BEGIN" in value:
        return value.encode()
    return Path(value).expanduser().read_bytes()


class SmtpBackend:
    name = "smtp"

    def __init__(self, settings: Settings, timeout: float = 30.0) -> None:
        if not settings.smtp_url:
            raise ValueError("SMTP_URL is not set")
        url = urlsplit(settings.smtp_url)
        if url.scheme not in ("smtp", "smtps"):
            raise ValueError("SMTP_URL must start with smtp:// or smtps://")
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.implicit_tls = url.scheme == "smtps"
        self.starttls = query.get("starttls", "false").lower() in ("1", "true", "yes")
        self.host = url.hostname or "localhost"
        self.port = url.port or (465 if self.implicit_tls else 25)
        self.username = unquote(url.username) if url.username else None
        self.password = unquote(url.password) if url.password else None
        self.timeout = timeout
        self.dkim = None
        if settings.dkim_private_key and settings.dkim_selector:
            self.dkim = (
                settings.dkim_selector.encode(),
                settings.dkim_domain,
                load_private_key(settings.dkim_private_key.get_secret_value()),
            )

    def sign(self, data: bytes, from_email: str) -> bytes:
        if self.dkim is None:
            return data
        selector, domain, key = self.dkim
        domain = (domain or from_email.rsplit("@", 1)[-1]).encode()
        present = {
            line.split(b":", 1)[0].strip().lower()
            for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
            if b":" in line and not line.startswith((b" ", b"\t"))
        }
        headers = [h for h in SIGNED_HEADERS if h in present]
        signature = dkim.sign(data, selector, domain, key, include_headers=headers)
        return signature + data

    def deliver(self, message: Prepared) -> DeliveryResult:
        from email import policy

        data = self.sign(message.mime().as_bytes(policy=policy.SMTP), message.from_email)
        try:
            if self.implicit_tls:
                client = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                client.ehlo()
                if self.starttls:
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                if self.username:
                    client.login(self.username, self.password or "")
                refused = client.sendmail(message.from_email, message.recipients, data)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentDeliveryError(f"all recipients refused: {exc.recipients}") from None
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentDeliveryError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from None
            raise TransientDeliveryError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientDeliveryError(f"SMTP: {exc}") from None
        if refused and len(refused) == len(message.recipients):
            raise PermanentDeliveryError(f"all recipients refused: {refused}")
        return DeliveryResult(provider=self.name, provider_message_id=message.message_id)

    def find_attempt(self, attempt: Attempt, *, now: datetime) -> SendLookup:
        return SendLookup(Found.unknown, detail="an SMTP relay cannot be asked whether it took a message")

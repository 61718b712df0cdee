"""Delivery backends: SendGrid v3, SMTP and the local outbox, chosen by configuration.

A backend gets a fully prepared message (tracking applied, headers set) and either returns the
provider's message id or raises: `TransientDeliveryError` (retried with backoff) or
`PermanentDeliveryError` (the email fails at once).

`find_attempt` answers, after a worker died between claiming an email and recording the provider's
answer, whether that delivery attempt reached the provider (see `SendLookup`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from enum import StrEnum
from typing import Protocol

from serving.core.config import Settings


class TransientDeliveryError(Exception):
    pass


class PermanentDeliveryError(Exception):
    pass


@dataclass
class Prepared:
    email_id: uuid.UUID
    organization_id: uuid.UUID
    message_id: str  # RFC 5322 Message-ID without angle brackets
    from_email: str
    from_name: str | None
    to: list[dict]
    cc: list[dict]
    bcc: list[dict]
    reply_to: str | None
    subject: str
    html: str | None
    text: str | None
    date: datetime
    headers: dict[str, str] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    custom_args: dict[str, str] = field(default_factory=dict)
    attempt_id: uuid.UUID | None = None

    @property
    def recipients(self) -> list[str]:
        return [r["email"] for r in (*self.to, *self.cc, *self.bcc)]

    def mime(self) -> EmailMessage:
        """The RFC 5322 message (Bcc stays out of the headers; it is envelope-only)."""
        msg = EmailMessage()
        msg["From"] = formataddr((self.from_name or "", self.from_email))
        msg["To"] = ", ".join(formataddr((r.get("name") or "", r["email"])) for r in self.to)
        if self.cc:
            msg["Cc"] = ", ".join(formataddr((r.get("name") or "", r["email"])) for r in self.cc)
        if self.reply_to:
            msg["Reply-To"] = self.reply_to
        msg["Subject"] = self.subject
        msg["Date"] = format_datetime(self.date)
        msg["Message-ID"] = f"<{self.message_id}>"
        for name, value in self.headers.items():
            msg[name] = value
        msg.set_content(self.text or "")
        if self.html:
            msg.add_alternative(self.html, subtype="html")
        return msg


@dataclass(frozen=True)
class DeliveryResult:
    provider: str
    provider_message_id: str | None = None


class Found(StrEnum):
    sent = "sent"  # the provider has the message
    not_sent = "not_sent"  # the provider can say for sure that it never got it
    pending = "pending"  # cannot tell yet (feed lag, provider unreachable): ask again later
    unknown = "unknown"  # this provider cannot be asked: a person decides


@dataclass(frozen=True)
class SendLookup:
    found: Found
    provider_message_id: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class Attempt:
    """A delivery attempt whose worker died before it recorded the provider's answer."""

    organization_id: uuid.UUID
    email_id: uuid.UUID
    attempt_id: uuid.UUID
    claimed_at: datetime


class Backend(Protocol):
    name: str

    def deliver(self, message: Prepared) -> DeliveryResult: ...

    def find_attempt(self, attempt: Attempt, *, now: datetime) -> SendLookup: ...


def backend_name(settings: Settings) -> str:
    if settings.email_backend != "auto":
        return settings.email_backend
    if settings.sendgrid_api_key:
        return "sendgrid"
    if settings.smtp_url:
        return "smtp"
    return "outbox"


def backend_for(settings: Settings) -> Backend:
    name = backend_name(settings)
    if name == "sendgrid":
        from serving.emails.delivery.sendgrid import SendGridBackend

        return SendGridBackend(settings)
    if name == "smtp":
        from serving.emails.delivery.smtp import SmtpBackend

        return SmtpBackend(settings)
    from serving.emails.delivery.outbox import OutboxBackend

    return OutboxBackend(settings.outbox_dir)

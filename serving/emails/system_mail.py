"""E-mail the product itself sends to its users (notification digests, invitations, address checks, password
resets): through the configured delivery backend (SendGrid, SMTP or the local outbox), from the install's sender,
marked auto-generated. Not the outreach pipeline: no tracking, no suppression list, no mailbox caps."""

from __future__ import annotations

import html
import uuid
from datetime import datetime

from serving.core.clock import utcnow
from serving.core.config import Settings
from serving.emails.delivery import Prepared, backend_for


def send(settings: Settings, *, organization_id: uuid.UUID, to: str, subject: str, body: str, category: str,
         now: datetime | None = None, email_id: uuid.UUID | None = None) -> uuid.UUID:
    """Deliver now; the backend's `TransientDeliveryError` / `PermanentDeliveryError` reach the caller."""
    email_id = email_id or uuid.uuid4()
    sender = settings.sendgrid_verified_sender or settings.email_from
    message = Prepared(
        email_id=email_id, organization_id=organization_id, message_id=f"{email_id}@{sender.rsplit('@', 1)[-1]}",
        from_email=sender, from_name="AIRevenueOrc", to=[{"email": to}], cc=[], bcc=[], reply_to=None,
        subject=subject, text=body, html=f"<pre style=\"font-family:sans-serif\">{html.escape(body)}</pre>",
        date=now or utcnow(), headers={"Auto-Submitted": "auto-generated"}, categories=[category],
    )
    backend_for(settings).deliver(message)
    return email_id

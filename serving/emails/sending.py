"""Queueing a send: render, drop suppressed recipients, record the `queued` row and wake delivery.

Every path that emails a person (the API, cadences, bulk jobs) goes through `queue_email`, so every path
checks the suppression list; delivery (`runner`) checks it again at send time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from serving.core.clock import utcnow
from serving.core.config import Settings
from serving.core.queue import enqueue
from serving.core.unnest import insert_rows
from serving.emails import suppression, templating, tracking
from serving.emails.models import Email, EmailStatus, EmailTemplate, Mailbox
from serving.prospects.models import Prospect

DELIVER_TASK = "emails.deliver_due"


class RecipientSuppressed(Exception):
    def __init__(self, reasons: dict[str, str]) -> None:
        super().__init__(f"every recipient is suppressed: {reasons}")
        self.reasons = reasons


@dataclass
class Recipient:
    email: str
    name: str | None = None

    def as_json(self) -> dict:
        return {"email": self.email.strip().lower(), **({"name": self.name} if self.name else {})}


@dataclass
class EmailRequest:
    to: list[Recipient]
    cc: list[Recipient] = field(default_factory=list)
    bcc: list[Recipient] = field(default_factory=list)
    subject: str | None = None
    html: str | None = None
    text: str | None = None
    template: EmailTemplate | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    prospect: Prospect | None = None
    deal_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = None
    track_opens: bool = True
    track_clicks: bool = True
    send_at: datetime | None = None
    mailbox: Mailbox | None = None
    reply_to: str | None = None
    cadence_id: uuid.UUID | None = None
    enrollment_id: uuid.UUID | None = None
    step_id: uuid.UUID | None = None
    variant_id: uuid.UUID | None = None
    bulk_job_id: uuid.UUID | None = None


def sender_address(settings: Settings, mailbox: Mailbox | None) -> tuple[str, str | None]:
    if mailbox is not None:
        return mailbox.email, mailbox.display_name
    return settings.sendgrid_verified_sender or settings.email_from, None


def queue_email(
    *,
    db_session: Session,
    settings: Settings,
    organization_id: uuid.UUID,
    user_id: uuid.UUID | None,
    team_id: uuid.UUID | None,
    request: EmailRequest,
    now: datetime | None = None,
    wake: bool = True,
    suppressed_cache: dict[str, str] | None = None,
    flush: bool = True,
) -> Email:
    """Render and record an email (status `queued`); raises RecipientSuppressed when no `to` is left.

    The delivery wake-up job is inserted in the same transaction, so it exists iff the row does. A batch
    (bulk job, cadence batch) stages `email_values` rows instead and inserts them with `insert_staged`.
    """
    now = now or utcnow()
    email = Email(
        **email_values(
            db_session=db_session,
            settings=settings,
            organization_id=organization_id,
            user_id=user_id,
            team_id=team_id,
            request=request,
            now=now,
            suppressed_cache=suppressed_cache,
        )
    )
    db_session.add(email)
    if flush:
        db_session.flush()
    if wake and email.send_at <= now + timedelta(seconds=60):
        wake_delivery(db_session=db_session, organization_id=organization_id)
    return email


def email_values(
    *,
    db_session: Session | None,
    settings: Settings,
    organization_id: uuid.UUID,
    user_id: uuid.UUID | None,
    team_id: uuid.UUID | None,
    request: EmailRequest,
    now: datetime,
    suppressed_cache: dict[str, str] | None = None,
    tracking_secret: bytes | None = None,
) -> dict[str, Any]:
    """The `emails` row (column → value) of a rendered, queued email: what `queue_email` stores, without an
    ORM object (a batch of them is inserted with `insert_staged`). Raises RecipientSuppressed when no `to` is
    left. `tracking_secret` saves a batch deriving the secret once per recipient."""
    addresses = [r.email.strip().lower() for r in (*request.to, *request.cc, *request.bcc)]
    blocked = (
        {a: suppressed_cache[a] for a in addresses if a in suppressed_cache}
        if suppressed_cache is not None
        else suppression.suppressed(db_session=db_session, addresses=addresses)
    )
    to = [r.as_json() for r in request.to if r.email.strip().lower() not in blocked]
    if not to:
        raise RecipientSuppressed(blocked)
    cc = [r.as_json() for r in request.cc if r.email.strip().lower() not in blocked]
    bcc = [r.as_json() for r in request.bcc if r.email.strip().lower() not in blocked]

    email_id = uuid.uuid4()
    from_email, from_name = sender_address(settings, request.mailbox)
    template = request.template
    unsubscribe = tracking.unsubscribe_url(
        settings.tracking_base_url,
        tracking_secret or settings.tracking_secret,
        organization_id=organization_id,
        email_id=email_id,
        address=to[0]["email"],
    )
    context = templating.build_context(
        prospect=request.prospect,
        defaults=template.defaults if template else None,
        variables=request.variables,
        sender={"senderName": from_name or "", "senderEmail": from_email},
        extra={"unsubscribeUrl": unsubscribe, "today": now.date().isoformat()},
    )
    rendered = templating.render(
        subject=request.subject if request.subject is not None else (template.subject if template else ""),
        html=request.html if request.html is not None else (template.html if template else None),
        text=request.text if request.text is not None else (template.text if template else None),
        context=context,
    )
    send_at = max(request.send_at or now, now) if request.send_at else now
    return {
        "id": email_id,
        "organization_id": organization_id,
        "team_id": team_id,
        "user_id": user_id,
        "mailbox_id": request.mailbox.id if request.mailbox else None,
        "from_email": from_email,
        "from_name": from_name,
        "reply_to": request.reply_to,
        "to": to,
        "cc": cc,
        "bcc": bcc,
        "subject": rendered.subject,
        "html": rendered.html,
        "text": rendered.text,
        "template_id": template.id if template else None,
        "variables": request.variables or {},
        "status": EmailStatus.queued.value,
        "track_opens": request.track_opens,
        "track_clicks": request.track_clicks,
        "message_id": f"{email_id}@{from_email.rsplit('@', 1)[-1]}",
        "prospect_id": request.prospect.id if request.prospect else None,
        "deal_id": request.deal_id,
        "campaign_id": request.campaign_id,
        "cadence_id": request.cadence_id,
        "enrollment_id": request.enrollment_id,
        "step_id": request.step_id,
        "variant_id": request.variant_id,
        "bulk_job_id": request.bulk_job_id,
        "send_at": send_at,
        "created_at": now,
        "updated_at": now,
        "status_reason": (f"suppressed recipients dropped: {sorted(blocked)}" if blocked else None),
    }


def insert_staged(*, db_session: Session, emails: list[dict[str, Any]]) -> None:
    """Insert a batch's staged email rows (`email_values`) with one INSERT … SELECT FROM unnest(arrays): one
    statement with one array per column (an executemany, and before it the unit of work's multi-row INSERT,
    spent most of a bulk batch building and converting per-row parameters on the client)."""
    insert_rows(db_session, Email.__table__, emails)


def wake_delivery(*, db_session: Session, organization_id: uuid.UUID, at: datetime | None = None) -> None:
    """Wake the organization's delivery now, or at `at` (a later look at unsettled claims).

    The later wake-up has a queueing lock of its own: under the immediate one's, a job waiting for
    its time would swallow every immediate wake-up until then.
    """
    enqueue(
        db_session,
        DELIVER_TASK,
        queueing_lock=f"{'deliver' if at is None else 'recheck'}:{organization_id}",
        scheduled_at=at,
        organization_id=str(organization_id),
    )

"""Email business rules: templates, queueing a send, delivering it, and rolling events onto the row.

A send is recorded (`status = queued`) in the caller's transaction before anything is delivered;
`deliver_due` claims due rows one at a time with `FOR UPDATE SKIP LOCKED`, re-checks suppression,
commits the claim (`sending`, with an attempt id), then calls the backend and records its answer;
claims of dead workers are settled by asking the provider (`recover_claims`), never blindly resent.
Every path that emails a person goes through `queue_email` and `claim`, so every path checks the
suppression list.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from serving.activities.models import Activity, ActivityType
from serving.cadences.models import CadenceEnrollment, EnrollmentStatus
from serving.core.config import Settings
from serving.core.db import set_tenant, tenant_session
from serving.emails import suppression, templating, tracking
from serving.emails.delivery import (
    Attempt,
    Backend,
    Found,
    PermanentDeliveryError,
    Prepared,
    TransientDeliveryError,
    backend_for,
)
from serving.emails.models import (
    BounceType,
    Email,
    EmailStatus,
    EmailTemplate,
    EmailTrackingEvent,
    Mailbox,
    TrackingEventType,
)
from serving.organizations.models import Organization
from serving.prospects.models import Prospect

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
DELIVER_TASK = "emails.deliver_due"


def utcnow() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int) -> timedelta:
    """1, 4, 16, 64 minutes … capped at 6 hours."""
    return timedelta(minutes=min(4 ** max(attempts - 1, 0), 360))


class RecipientSuppressed(Exception):
    def __init__(self, reasons: dict[str, str]) -> None:
        super().__init__(f"every recipient is suppressed: {reasons}")
        self.reasons = reasons


# -- templates -------------------------------------------------------------------------------


def check_template(
    *, subject: str, html: str | None, text: str | None, variables: Iterable[str], defaults: dict[str, Any]
) -> set[str]:
    """Raises templating.TemplateError for syntax errors and unknown variables."""
    return templating.check_template(
        subject=subject, html=html, text=text, declared=set(variables) | set(defaults)
    )


def get_template(*, db_session: Session, template_id: uuid.UUID) -> EmailTemplate | None:
    return db_session.get(EmailTemplate, template_id)


def preview(
    *,
    template: EmailTemplate | None,
    subject: str | None = None,
    html: str | None = None,
    text: str | None = None,
    prospect: Prospect | None = None,
    variables: dict[str, Any] | None = None,
) -> templating.Rendered:
    context = templating.build_context(
        prospect=prospect,
        defaults=template.defaults if template else None,
        variables=variables,
        extra={"unsubscribeUrl": "#unsubscribe-preview"},
    )
    return templating.render(
        subject=subject if subject is not None else (template.subject if template else ""),
        html=html if html is not None else (template.html if template else None),
        text=text if text is not None else (template.text if template else None),
        context=context,
    )


# -- mailboxes -------------------------------------------------------------------------------


def effective_cap(mailbox: Mailbox, now: datetime) -> int:
    """The day's cap; during warm-up it starts low and grows daily up to `daily_cap`."""
    if not mailbox.warmup_enabled or mailbox.warmup_started_on is None:
        return mailbox.daily_cap
    days = max((now.date() - mailbox.warmup_started_on.date()).days, 0)
    return min(mailbox.daily_cap, mailbox.warmup_start_cap + days * mailbox.warmup_daily_increase)


def sent_today(*, db_session: Session, mailbox_id: uuid.UUID, now: datetime) -> int:
    start = datetime(now.year, now.month, now.day, tzinfo=UTC)
    return (
        db_session.scalar(
            select(func.count())
            .select_from(Email)
            .where(Email.mailbox_id == mailbox_id, Email.sent_at >= start)
        )
        or 0
    )


# -- queueing --------------------------------------------------------------------------------


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

    The delivery wake-up job is inserted in the same transaction, so it exists iff the row does.
    """
    now = now or utcnow()
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
        settings.tracking_secret,
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
    email = Email(
        id=email_id,
        organization_id=organization_id,
        team_id=team_id,
        user_id=user_id,
        mailbox_id=request.mailbox.id if request.mailbox else None,
        from_email=from_email,
        from_name=from_name,
        reply_to=request.reply_to,
        to=to,
        cc=cc,
        bcc=bcc,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        template_id=template.id if template else None,
        variables=request.variables or {},
        status=EmailStatus.queued,
        track_opens=request.track_opens,
        track_clicks=request.track_clicks,
        message_id=f"{email_id}@{from_email.rsplit('@', 1)[-1]}",
        prospect_id=request.prospect.id if request.prospect else None,
        deal_id=request.deal_id,
        campaign_id=request.campaign_id,
        cadence_id=request.cadence_id,
        enrollment_id=request.enrollment_id,
        step_id=request.step_id,
        variant_id=request.variant_id,
        bulk_job_id=request.bulk_job_id,
        send_at=send_at,
        created_at=now,
        updated_at=now,
        status_reason=(f"suppressed recipients dropped: {sorted(blocked)}" if blocked else None),
    )
    db_session.add(email)
    if flush:  # bulk callers flush once per batch (one multi-row insert)
        db_session.flush()
    if wake and send_at <= now + timedelta(seconds=60):
        wake_delivery(db_session=db_session, organization_id=organization_id)
    return email


def wake_delivery(*, db_session: Session, organization_id: uuid.UUID, at: datetime | None = None) -> None:
    """Wake the organization's delivery now, or at `at` (a later look at unsettled claims).

    The later wake-up has a queueing lock of its own: under the immediate one's, a job waiting for
    its time would swallow every immediate wake-up until then.
    """
    from serving.worker import enqueue

    enqueue(
        db_session,
        DELIVER_TASK,
        queueing_lock=f"{'deliver' if at is None else 'recheck'}:{organization_id}",
        scheduled_at=at,
        organization_id=str(organization_id),
    )


# -- delivering ------------------------------------------------------------------------------


def prepare(email: Email, settings: Settings) -> Prepared:
    """The message as it goes out: tracking pixel, signed click links and RFC 8058 headers."""
    base, secret = settings.tracking_base_url, settings.tracking_secret
    html = email.html
    if html and email.track_clicks:
        html = tracking.rewrite_links(
            html,
            lambda url: tracking.click_url(
                base, secret, organization_id=email.organization_id, email_id=email.id, url=url
            ),
        )
    if html and email.track_opens:
        html = tracking.add_pixel(
            html, tracking.open_url(base, secret, organization_id=email.organization_id, email_id=email.id)
        )
    unsubscribe = tracking.unsubscribe_url(
        base, secret, organization_id=email.organization_id, email_id=email.id, address=email.to[0]["email"]
    )
    headers = {
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "X-Revorc-Email-Id": str(email.id),
    }
    return Prepared(
        email_id=email.id,
        organization_id=email.organization_id,
        message_id=email.message_id,
        from_email=email.from_email,
        from_name=email.from_name,
        to=list(email.to),
        cc=list(email.cc or []),
        bcc=list(email.bcc or []),
        reply_to=email.reply_to,
        subject=email.subject,
        html=html,
        text=email.text,
        date=email.send_at,
        headers=headers,
        categories=[
            c for c in ("cadence" if email.cadence_id else None, "bulk" if email.bulk_job_id else None) if c
        ],
        custom_args={"revorc_email_id": str(email.id), "revorc_organization_id": str(email.organization_id)},
        attempt_id=email.attempt_id,
    )


def claim(*, db_session: Session, email: Email, settings: Settings, now: datetime) -> str | Prepared:
    """Claim a locked, queued, due email for one delivery attempt, or settle it without sending.

    Returns the outcome (`suppressed`, `deferred_cap`) when nothing is to be sent. Otherwise the row
    becomes `sending` with a fresh `attempt_id` and the prepared message of that attempt is returned;
    the caller commits the claim *before* calling the provider (`send_claimed`), so a worker that
    dies mid-send leaves a visible claim for `recover_claims`, never a `queued` row that the next
    worker would send a second time.
    """
    addresses = [r["email"] for r in (*email.to, *(email.cc or []), *(email.bcc or []))]
    blocked = suppression.suppressed(db_session=db_session, addresses=addresses)
    if blocked:
        email.to = [r for r in email.to if r["email"] not in blocked]
        email.cc = [r for r in email.cc or [] if r["email"] not in blocked]
        email.bcc = [r for r in email.bcc or [] if r["email"] not in blocked]
        if not email.to:
            email.status = EmailStatus.suppressed
            email.status_reason = ", ".join(f"{a}: {r}" for a, r in sorted(blocked.items()))
            return "suppressed"
    if email.mailbox_id:
        mailbox = db_session.get(Mailbox, email.mailbox_id)
        if mailbox is not None and sent_today(
            db_session=db_session, mailbox_id=mailbox.id, now=now
        ) >= effective_cap(mailbox, now):
            email.send_at = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
            email.status_reason = "mailbox daily cap reached"
            return "deferred_cap"
    email.attempts += 1
    email.status = EmailStatus.sending
    email.attempt_id = uuid.uuid4()
    email.claimed_at = now
    return prepare(email, settings)


def send_claimed(*, db_session: Session, message: Prepared, backend: Backend, now: datetime) -> str:
    """Call the provider for a committed claim and record its answer; the caller commits.

    The row stays locked during the call: that lock is how `recover_claims` tells a live attempt
    from a dead one. A claim that is no longer ours (recovery settled it) is not sent.
    """
    email = db_session.scalars(
        select(Email)
        .where(
            Email.id == message.email_id,
            Email.status == EmailStatus.sending,
            Email.attempt_id == message.attempt_id,
        )
        .with_for_update()
    ).first()
    if email is None:
        return "claim_lost"
    try:
        result = backend.deliver(message)
    except TransientDeliveryError as exc:
        email.last_error = str(exc)[:2000]
        if email.attempts >= MAX_ATTEMPTS:
            email.status = EmailStatus.failed
            return "failed"
        _requeue(email, at=now + backoff(email.attempts), reason=None)
        return "retry"
    except PermanentDeliveryError as exc:
        email.last_error = str(exc)[:2000]
        email.status = EmailStatus.failed
        return "failed"
    record_sent(
        db_session=db_session,
        email=email,
        provider=result.provider,
        provider_message_id=result.provider_message_id,
        now=now,
    )
    return "sent"


def _requeue(email: Email, *, at: datetime, reason: str | None) -> None:
    email.status = EmailStatus.queued
    email.send_at = at
    email.attempt_id = None
    email.claimed_at = None
    if reason is not None:
        email.status_reason = reason


def record_sent(
    *,
    db_session: Session,
    email: Email,
    provider: str,
    provider_message_id: str | None,
    now: datetime,
    reason: str | None = None,
) -> None:
    """The provider has the message: status `sent`, the `processed` event, the timeline activity."""
    email.status = EmailStatus.sent
    email.sent_at = now
    email.provider = provider
    if provider == "sendgrid":
        email.sendgrid_message_id = provider_message_id
    email.status_reason = reason
    source = {"sendgrid": "sendgrid_api"}.get(provider, provider)
    record_event(
        db_session=db_session,
        email=email,
        event=TrackingEventType.processed,
        occurred_at=now,
        source=source,
        recipient=email.to[0]["email"],
        event_key=f"revorc:{email.id}:processed",
        details={"provider": provider, "providerMessageId": provider_message_id},
    )
    if email.prospect_id:
        _activity(
            db_session,
            email,
            ActivityType.email_sent,
            f"Email sent: {email.subject}",
            now,
            {"to": [r["email"] for r in email.to]},
        )
        db_session.execute(
            update(Prospect).where(Prospect.id == email.prospect_id).values(last_contacted_at=now)
        )


UNCONFIRMED_SETTING = "unconfirmedSends"  # organizations.settings: "review" (default) or "resend"
PENDING_RECHECK = timedelta(seconds=60)


def unconfirmed_policy(*, db_session: Session, organization_id: uuid.UUID) -> str:
    organization = db_session.get(Organization, organization_id)
    value = (organization.settings or {}).get(UNCONFIRMED_SETTING) if organization else None
    return "resend" if value == "resend" else "review"


def recover_claims(
    *, factory: sessionmaker[Session], settings: Settings, organization_id: uuid.UUID, backend: Backend, now: datetime
) -> tuple[Counter, datetime | None]:
    """Settle the claims of dead delivery attempts; returns the outcomes and when to look again.

    A claim is dead when no transaction holds its row (its worker's connection is gone) and it is
    older than `EMAIL_CLAIM_GRACE_SECONDS` (which covers the instant between committing a claim and
    re-locking it to send). The provider is asked: found → `sent`; surely never received → queued
    again; cannot tell yet → asked again later; cannot be asked (SMTP, no Email Activity access) →
    the organization's `unconfirmedSends` setting: `review` (default) marks the email `unknown` for
    a person, `resend` queues it again and accepts a possible second copy.
    """
    outcomes: Counter = Counter()
    cutoff = now - timedelta(seconds=settings.email_claim_grace_seconds)
    postponed: list[uuid.UUID] = []
    while True:
        with tenant_session(factory, organization_id) as session:
            email = session.scalars(
                select(Email)
                .where(Email.status == EmailStatus.sending, Email.claimed_at <= cutoff, Email.id.not_in(postponed))
                .order_by(Email.claimed_at, Email.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if email is None:
                break
            attempt = Attempt(
                organization_id=organization_id,
                email_id=email.id,
                attempt_id=email.attempt_id or uuid.UUID(int=0),
                claimed_at=email.claimed_at or now,
            )
            lookup = backend.find_attempt(attempt, now=now)
            logger.warning("email %s: dead delivery attempt %s: %s", email.id, attempt.attempt_id, lookup)
            if lookup.found == Found.sent:
                record_sent(
                    db_session=session,
                    email=email,
                    provider=backend.name,
                    provider_message_id=lookup.provider_message_id or email.message_id,
                    now=now,
                    reason=f"confirmed after the worker stopped: {lookup.detail}",
                )
                outcomes["recovered_sent"] += 1
            elif lookup.found == Found.not_sent:
                _requeue(email, at=now, reason=f"re-queued after the worker stopped: {lookup.detail}")
                outcomes["requeued"] += 1
            elif lookup.found == Found.pending:
                postponed.append(email.id)
                outcomes["unconfirmed_pending"] += 1
            elif unconfirmed_policy(db_session=session, organization_id=organization_id) == "resend":
                _requeue(
                    email,
                    at=now,
                    reason=f"re-queued after the worker stopped ({lookup.detail}; {UNCONFIRMED_SETTING}=resend)",
                )
                outcomes["requeued"] += 1
            else:
                email.status = EmailStatus.unknown
                email.status_reason = (
                    f"the worker stopped during delivery attempt {attempt.attempt_id} and {lookup.detail}: "
                    "check whether it arrived before sending again"
                )
                outcomes["unknown"] += 1
    with tenant_session(factory, organization_id) as session:
        # the youngest dead claims (inside the grace period) and the postponed ones need a later look
        young = session.scalars(
            select(Email.claimed_at)
            .where(Email.status == EmailStatus.sending, Email.claimed_at > cutoff)
            .order_by(Email.claimed_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
    checks = [young + timedelta(seconds=settings.email_claim_grace_seconds)] if young else []
    if postponed:
        checks.append(now + PENDING_RECHECK)
    return outcomes, min(checks) if checks else None


def resolve_unknown(*, db_session: Session, email: Email, outcome: str, now: datetime) -> bool:
    """A person's verdict on an `unknown` email: `sent` (it did arrive) or `resend` (queue it again,
    accepting that the recipient may get two copies). False when the email is not `unknown`."""
    if email.status != EmailStatus.unknown:
        return False
    if outcome == "resend":
        _requeue(email, at=now, reason="queued again by a person after an unconfirmed delivery attempt")
        wake_delivery(db_session=db_session, organization_id=email.organization_id)
        return True
    email.status = EmailStatus.sent
    email.sent_at = email.claimed_at or now
    email.status_reason = "confirmed as sent by a person after an unconfirmed delivery attempt"
    _activity(db_session, email, ActivityType.email_sent, f"Email sent: {email.subject}", email.sent_at)
    return True


def deliver_due(
    *,
    factory: sessionmaker[Session],
    settings: Settings,
    organization_id: uuid.UUID,
    backend: Backend | None = None,
    now=None,
    limit: int | None = None,
    time_budget: float | None = None,
) -> Counter:
    """Settle dead attempts, then deliver due emails of one organization until none is due.

    Each email is claimed in one transaction and sent in the next (`claim`, `send_claimed`), so a
    delivery reaches the provider at most once. `now` is a datetime or a callable returning one
    (tests pass a controllable clock).
    """
    backend = backend or backend_for(settings)
    clock = now if callable(now) else (lambda: now) if now is not None else utcnow
    outcomes, next_check = recover_claims(
        factory=factory, settings=settings, organization_id=organization_id, backend=backend, now=clock()
    )
    if next_check is not None:
        with tenant_session(factory, organization_id) as session:
            wake_delivery(db_session=session, organization_id=organization_id, at=next_check)
    started = time.monotonic()
    claimed: Prepared | None = None
    while True:
        current = clock()
        # One transaction records the previous email's answer and claims the next one: every claim
        # is committed before its provider call, at one commit per email.
        with tenant_session(factory, organization_id) as session:
            if claimed is not None:
                outcome = send_claimed(db_session=session, message=claimed, backend=backend, now=current)
                outcomes[outcome] += 1
                claimed = None
            if limit is not None and sum(outcomes.values()) >= limit:
                break
            if time_budget is not None and time.monotonic() - started > time_budget:
                outcomes["budget_exhausted"] += 1
                break
            email = session.scalars(
                select(Email)
                .where(Email.status == EmailStatus.queued, Email.send_at <= current)
                .order_by(Email.send_at, Email.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if email is None:
                break
            result = claim(db_session=session, email=email, settings=settings, now=current)
            if isinstance(result, str):
                outcomes[result] += 1
            else:
                claimed = result
    return outcomes


# -- events ----------------------------------------------------------------------------------

_RAW_COLUMNS = (
    "organization_id, sg_event_id, sg_message_id, event, email, occurred_at, email_id, prospect_id, "
    "campaign_id, cadence_id, template_id, url, reason, status, bounce_type, useragent, ip, payload, source, "
    "request_id"
)
# No conflict target: `revorc_app` may only insert into raw tables, and a target needs SELECT.
_RAW_INSERT = text(
    f"insert into raw.email_events ({_RAW_COLUMNS}) values ("
    + ", ".join(f"cast(:{c} as jsonb)" if c == "payload" else f":{c}" for c in _RAW_COLUMNS.split(", "))
    + ") on conflict do nothing"
)


def record_event(
    *,
    db_session: Session,
    email: Email,
    event: str,
    occurred_at: datetime,
    source: str,
    event_key: str | None = None,
    recipient: str | None = None,
    url: str | None = None,
    reason: str | None = None,
    details: dict | None = None,
    useragent: str | None = None,
    ip: str | None = None,
    bounce_type: str | None = None,
    land_raw: bool = True,
) -> bool:
    """Store an event for the API (`email_tracking_events`) and, for our own events, in
    `raw.email_events` for the data platform. False when the event key was seen before."""
    import json

    event_key = event_key or f"revorc:{uuid.uuid4()}"
    inserted = db_session.execute(
        insert(EmailTrackingEvent)
        .values(
            id=uuid.uuid4(),
            organization_id=email.organization_id,
            email_id=email.id,
            event=event,
            event_key=event_key,
            recipient=recipient,
            url=url,
            source=source,
            details={
                k: v
                for k, v in {
                    **(details or {}),
                    "reason": reason,
                    "useragent": useragent,
                    "bounceType": bounce_type,
                }.items()
                if v is not None
            },
            occurred_at=occurred_at,
        )
        .on_conflict_do_nothing(index_elements=[EmailTrackingEvent.event_key])
        .returning(EmailTrackingEvent.id)
    ).first()
    if inserted is None:
        return False
    if land_raw:
        payload = {
            "event": event,
            "email": recipient,
            "timestamp": int(occurred_at.timestamp()),
            "sg_event_id": event_key,
            "revorc_email_id": str(email.id),
            "url": url,
            "reason": reason,
            **(details or {}),
        }
        db_session.execute(
            _RAW_INSERT,
            {
                "organization_id": email.organization_id,
                "sg_event_id": event_key,
                "sg_message_id": email.sendgrid_message_id,
                "event": event,
                "email": recipient,
                "occurred_at": occurred_at,
                "email_id": email.id,
                "prospect_id": email.prospect_id,
                "campaign_id": email.campaign_id,
                "cadence_id": email.cadence_id,
                "template_id": email.template_id,
                "url": url,
                "reason": reason,
                "status": None,
                "bounce_type": bounce_type,
                "useragent": useragent,
                "ip": ip,
                "payload": json.dumps(payload, default=str),
                "source": source,
                "request_id": None,
            },
        )
    return True


def _activity(
    db_session: Session, email: Email, kind: str, subject: str, when: datetime, metadata: dict | None = None
) -> None:
    if email.prospect_id is None:
        return
    db_session.add(
        Activity(
            organization_id=email.organization_id,
            team_id=email.team_id,
            user_id=email.user_id,
            prospect_id=email.prospect_id,
            deal_id=email.deal_id,
            type=kind,
            subject=subject,
            metadata_={
                "emailId": str(email.id),
                **({"cadenceId": str(email.cadence_id)} if email.cadence_id else {}),
                **(metadata or {}),
            },
            occurred_at=when,
        )
    )


def pause_enrollments(
    *,
    db_session: Session,
    prospect_id: uuid.UUID | None,
    reason: str,
    now: datetime,
    enrollment_id: uuid.UUID | None = None,
) -> int:
    """Stop a prospect's active cadences (reply, unsubscribe, bounce, meeting booked)."""
    if prospect_id is None and enrollment_id is None:
        return 0
    stmt = update(CadenceEnrollment).where(CadenceEnrollment.status == EnrollmentStatus.active)
    stmt = (
        stmt.where(CadenceEnrollment.prospect_id == prospect_id)
        if prospect_id
        else stmt.where(CadenceEnrollment.id == enrollment_id)
    )
    result = db_session.execute(
        stmt.values(status=EnrollmentStatus.paused, pause_reason=reason, paused_at=now, updated_at=now)
    )
    return result.rowcount or 0


def track_open(
    *,
    db_session: Session,
    email: Email,
    occurred_at: datetime,
    source: str = "tracking",
    useragent: str | None = None,
    ip: str | None = None,
    event_key: str | None = None,
    land_raw: bool = True,
) -> None:
    if not record_event(
        db_session=db_session,
        email=email,
        event=TrackingEventType.open,
        occurred_at=occurred_at,
        source=source,
        recipient=email.to[0]["email"] if email.to else None,
        useragent=useragent,
        ip=ip,
        event_key=event_key,
        land_raw=land_raw,
    ):
        return
    first = not email.opened
    email.opened = True
    email.open_count += 1
    email.first_opened_at = email.first_opened_at or occurred_at
    email.last_opened_at = max(email.last_opened_at or occurred_at, occurred_at)
    if first:
        _activity(db_session, email, ActivityType.email_opened, f"Opened: {email.subject}", occurred_at)


def track_click(
    *,
    db_session: Session,
    email: Email,
    url: str,
    occurred_at: datetime,
    source: str = "tracking",
    useragent: str | None = None,
    ip: str | None = None,
    event_key: str | None = None,
    land_raw: bool = True,
) -> None:
    if not record_event(
        db_session=db_session,
        email=email,
        event=TrackingEventType.click,
        occurred_at=occurred_at,
        source=source,
        recipient=email.to[0]["email"] if email.to else None,
        url=url,
        useragent=useragent,
        ip=ip,
        event_key=event_key,
        land_raw=land_raw,
    ):
        return
    first = not email.clicked
    email.clicked = True
    email.click_count += 1
    email.first_clicked_at = email.first_clicked_at or occurred_at
    email.last_clicked_at = max(email.last_clicked_at or occurred_at, occurred_at)
    # a click implies the message was opened, even when images were blocked
    if not email.opened:
        email.opened = True
        email.first_opened_at = occurred_at
        email.last_opened_at = occurred_at
    if first:
        _activity(db_session, email, ActivityType.email_clicked, f"Clicked: {url}", occurred_at, {"url": url})


def unsubscribe(
    *,
    db_session: Session,
    organization_id: uuid.UUID,
    address: str,
    email: Email | None,
    source: str,
    occurred_at: datetime,
    event_key: str | None = None,
    land_raw: bool = True,
) -> bool:
    prospect_id = email.prospect_id if email else None
    if prospect_id is None:
        prospect_id = db_session.scalar(select(Prospect.id).where(Prospect.email == address.lower()))
    added = suppression.unsubscribe(
        db_session=db_session,
        organization_id=organization_id,
        address=address,
        source=source,
        email_id=email.id if email else None,
        prospect_id=prospect_id,
    )
    if email is not None:
        fresh = record_event(
            db_session=db_session,
            email=email,
            event=TrackingEventType.unsubscribe,
            occurred_at=occurred_at,
            source=source,
            recipient=address,
            event_key=event_key,
            land_raw=land_raw,
        )
        email.unsubscribed = True
        if fresh and added:
            _activity(db_session, email, ActivityType.email_unsubscribed, "Unsubscribed", occurred_at)
    pause_enrollments(db_session=db_session, prospect_id=prospect_id, reason="unsubscribed", now=occurred_at)
    return added


def bounce(
    *,
    db_session: Session,
    settings: Settings | None,
    email: Email,
    address: str,
    bounce_type: str,
    occurred_at: datetime,
    reason: str | None = None,
    status_code: str | None = None,
    source: str,
    event_key: str | None = None,
    land_raw: bool = True,
) -> str | None:
    event = TrackingEventType.spamreport if bounce_type == BounceType.spam else TrackingEventType.bounce
    if not record_event(
        db_session=db_session,
        email=email,
        event=event,
        occurred_at=occurred_at,
        source=source,
        recipient=address,
        reason=reason,
        bounce_type=bounce_type,
        event_key=event_key,
        land_raw=land_raw,
    ):
        return None
    listed = suppression.record_bounce(
        db_session=db_session,
        organization_id=email.organization_id,
        address=address,
        bounce_type=bounce_type,
        occurred_at=occurred_at,
        email_id=email.id,
        reason=reason,
        status_code=status_code,
        soft_limit=settings.soft_bounce_limit if settings else 3,
        soft_window_days=settings.soft_bounce_window_days if settings else 7,
    )
    if bounce_type != BounceType.spam:
        email.bounced = True
        if bounce_type == BounceType.hard:
            email.status = EmailStatus.bounced
    _activity(
        db_session,
        email,
        ActivityType.email_bounced if bounce_type != BounceType.spam else ActivityType.email_unsubscribed,
        f"{'Spam complaint' if bounce_type == BounceType.spam else bounce_type.capitalize() + ' bounce'}",
        occurred_at,
        {"reason": reason, "bounceType": bounce_type},
    )
    if listed:
        pause_enrollments(
            db_session=db_session,
            prospect_id=email.prospect_id,
            reason=f"suppressed:{listed}",
            now=occurred_at,
        )
    return listed


def mark_replied(
    *,
    db_session: Session,
    email: Email,
    occurred_at: datetime,
    source: str = "inbound",
    event_key: str | None = None,
    details: dict | None = None,
) -> bool:
    if not record_event(
        db_session=db_session,
        email=email,
        event=TrackingEventType.reply,
        occurred_at=occurred_at,
        source=source,
        recipient=email.to[0]["email"] if email.to else None,
        event_key=event_key,
        details=details,
    ):
        return False
    email.replied = True
    email.replied_at = email.replied_at or occurred_at
    _activity(db_session, email, ActivityType.email_received, f"Reply: {email.subject}", occurred_at, details)
    pause_enrollments(db_session=db_session, prospect_id=email.prospect_id, reason="replied", now=occurred_at)
    return True


# -- provider events (the SendGrid Event Webhook calls this) ---------------------------------


def locate_email(
    *, db_session: Session, message_ids: list[str], provider_id: str | None = None
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(email id, organization id) by RFC Message-ID or provider id, across tenants (ids only)."""
    row = db_session.execute(
        text("select id, organization_id from app.locate_emails(cast(:ids as text[]), :pid) limit 1"),
        {"ids": [m.strip().strip("<>") for m in message_ids if m], "pid": provider_id},
    ).first()
    return (row[0], row[1]) if row else None


def _event_time(event: dict) -> datetime:
    value = event.get("timestamp")
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError):  # absent, not a number, or beyond any date (1e20)
        return utcnow()


def apply_email_event(*, db_session: Session, event: dict, settings: Settings | None = None) -> Email | None:
    """Roll one SendGrid-style event onto its `emails` row and the suppression lists.

    Finds the email by `revorc_email_id`/`revorc_organization_id` custom args (we set them on every
    send) or by `sg_message_id`, binds the session's transaction to that organization, and applies
    the event idempotently (keyed by `sg_event_id`). Returns the email, or None if it is not ours.
    Does not write `raw.email_events` (the webhook lands the raw event itself). The caller commits.
    """
    email_id = event.get("revorc_email_id")
    organization_id = event.get("revorc_organization_id")
    try:
        located = (
            (uuid.UUID(str(email_id)), uuid.UUID(str(organization_id)))
            if email_id and organization_id
            else None
        )
    except ValueError:
        located = None
    if located is None:
        provider_id = str(event.get("sg_message_id") or "").split(".")[0] or None
        if provider_id is None:
            return None
        located = locate_email(db_session=db_session, message_ids=[], provider_id=provider_id)
        if located is None:
            return None
    set_tenant(db_session, located[1])
    email = db_session.get(Email, located[0], with_for_update=True)
    if email is None:
        return None
    kind = str(event.get("event", "")).lower()
    when = _event_time(event)
    key = (
        event.get("sg_event_id")
        or "sg:" + hashlib.sha256(repr(sorted((k, str(v)) for k, v in event.items())).encode()).hexdigest()
    )
    address = str(event.get("email") or (email.to[0]["email"] if email.to else "")).lower()
    common = {"db_session": db_session, "email": email, "event_key": key, "land_raw": False}
    if kind == "open":
        track_open(
            **common,
            occurred_at=when,
            source="sendgrid",
            useragent=event.get("useragent"),
            ip=event.get("ip"),
        )
    elif kind == "click":
        track_click(
            **common,
            occurred_at=when,
            source="sendgrid",
            url=str(event.get("url") or ""),
            useragent=event.get("useragent"),
            ip=event.get("ip"),
        )
    elif kind == "bounce":
        hard = str(event.get("type") or "bounce").lower() != "blocked"
        bounce(
            **common,
            settings=settings,
            address=address,
            occurred_at=when,
            source="sendgrid",
            bounce_type=BounceType.hard if hard else BounceType.soft,
            reason=event.get("reason"),
            status_code=event.get("status"),
        )
    elif kind == "spamreport":
        bounce(
            **common,
            settings=settings,
            address=address,
            occurred_at=when,
            source="sendgrid",
            bounce_type=BounceType.spam,
            reason="spam complaint",
        )
    elif kind in ("unsubscribe", "group_unsubscribe"):
        unsubscribe(
            **common,
            organization_id=email.organization_id,
            address=address,
            source="sendgrid",
            occurred_at=when,
        )
    elif kind == "dropped":
        reason = str(event.get("reason") or "")
        if record_event(
            db_session=db_session,
            email=email,
            event=TrackingEventType.dropped,
            occurred_at=when,
            source="sendgrid",
            recipient=address,
            reason=reason,
            event_key=key,
            land_raw=False,
        ):
            email.status = EmailStatus.failed
            email.status_reason = f"dropped by SendGrid: {reason}"
            lowered = reason.lower()
            if "bounce" in lowered:
                suppression.blacklist(
                    db_session=db_session,
                    organization_id=email.organization_id,
                    address=address,
                    reason="hard_bounce",
                    details=reason,
                )
            elif "spam" in lowered:
                suppression.blacklist(
                    db_session=db_session,
                    organization_id=email.organization_id,
                    address=address,
                    reason="spam_complaint",
                    details=reason,
                )
            elif "unsubscribe" in lowered:
                suppression.unsubscribe(
                    db_session=db_session,
                    organization_id=email.organization_id,
                    address=address,
                    source="sendgrid",
                    email_id=email.id,
                )
    elif kind in ("delivered", "processed", "deferred"):
        fresh = record_event(
            db_session=db_session,
            email=email,
            event=kind,
            occurred_at=when,
            source="sendgrid",
            recipient=address,
            reason=event.get("reason") or event.get("response"),
            event_key=key,
            land_raw=False,
        )
        if fresh and kind == "delivered":
            email.delivered_at = email.delivered_at or when
            if email.status == EmailStatus.sent:
                email.status = EmailStatus.delivered
    db_session.flush()
    return email


# -- reads -----------------------------------------------------------------------------------


def get(*, db_session: Session, email_id: uuid.UUID) -> Email | None:
    return db_session.get(Email, email_id)


def events_of(email_id: uuid.UUID):
    return (
        select(EmailTrackingEvent)
        .where(EmailTrackingEvent.email_id == email_id)
        .order_by(EmailTrackingEvent.occurred_at, EmailTrackingEvent.id)
    )

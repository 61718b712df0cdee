"""The delivery runner: claim due emails, hand them to the backend, record the answer, settle dead claims.

A send is recorded (`status = queued`) by `sending.queue_email` before anything is delivered;
`deliver_due` claims due rows one at a time with `FOR UPDATE SKIP LOCKED`, re-checks suppression,
commits the claim (`sending`, with an attempt id), then calls the backend and records its answer;
claims of dead workers are settled by asking the provider (`recover_claims`), never blindly resent.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from serving.core.clock import utcnow
from serving.core.config import Settings
from serving.core.db import tenant_session
from serving.core.errors import ValidationFailed
from serving.emails import suppression, tracking
from serving.emails.delivery import (
    Attempt,
    Backend,
    Found,
    PermanentDeliveryError,
    Prepared,
    TransientDeliveryError,
    backend_for,
)
from serving.emails.event_log import publish, record_event
from serving.emails.mailboxes import effective_cap, sent_today
from serving.emails.models import Email, EmailStatus, Mailbox, TrackingEventType
from serving.emails.sending import wake_delivery
from serving.organizations.models import Organization

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6


def backoff(attempts: int) -> timedelta:
    """1, 4, 16, 64 minutes … capped at 6 hours."""
    return timedelta(minutes=min(4 ** max(attempts - 1, 0), 360))


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
    """The provider has the message: status `sent`, the `processed` tracking event, `email.sent`."""
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
    # The timeline entry and the prospect's last-contacted date are subscribers of this event.
    publish(db_session, email, "email.sent", now, detail={"to": [r["email"] for r in email.to]})


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


def resolve_unknown(*, db_session: Session, email: Email, outcome: str, now: datetime) -> None:
    """A person's verdict on an `unknown` email (lock the row first): `sent` (it did arrive) or `resend`
    (queue it again, accepting that the recipient may get two copies). Any other status is a 422."""
    if email.status != EmailStatus.unknown:
        raise ValidationFailed(
            f"only emails whose delivery is unknown can be resolved (this one is {email.status})",
            code="INVALID_STATE",
            details={"status": email.status},
        )
    if outcome == "resend":
        _requeue(email, at=now, reason="queued again by a person after an unconfirmed delivery attempt")
        wake_delivery(db_session=db_session, organization_id=email.organization_id)
    else:
        email.status = EmailStatus.sent
        email.sent_at = email.claimed_at or now
        email.status_reason = "confirmed as sent by a person after an unconfirmed delivery attempt"
        publish(db_session, email, "email.sent", email.sent_at)
    db_session.flush()


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

"""Bulk sends: a job with per-recipient rows, materialized into queued emails in batches.

Each batch turns `pending` recipients into `queued` emails in one transaction (recipient status and
email row commit together), so a crash mid-job resumes from the first pending recipient and never
creates a second email for anyone. Rate limiting spreads `send_at` over the job at
`rate_per_minute`; delivery then sends each email when it is due.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from serving.core.clock import utcnow
from serving.core.config import Settings
from serving.core.db import tenant_session
from serving.core.principal import Principal
from serving.emails import sending, suppression
from serving.emails.models import (
    BulkEmailJob,
    BulkEmailRecipient,
    BulkJobStatus,
    Email,
    EmailStatus,
    EmailTemplate,
    Mailbox,
    RecipientStatus,
)
from serving.emails.schemas import BulkJobIn, BulkJobOut
from serving.prospects.models import Prospect

MATERIALIZE_TASK = "emails.materialize_bulk"
CHUNK = 2000


def get(*, db_session: Session, job_id: uuid.UUID) -> BulkEmailJob | None:
    return db_session.get(BulkEmailJob, job_id)


def create_job(
    *, db_session: Session, principal: Principal, data: BulkJobIn, now: datetime | None = None
) -> BulkEmailJob:
    now = now or utcnow()
    job = BulkEmailJob(
        organization_id=principal.organization_id,
        user_id=principal.user_id,
        mailbox_id=data.mailbox_id,
        name=data.name,
        template_id=data.template_id,
        subject=data.subject,
        html=data.html,
        text=data.text,
        variables=data.variables,
        campaign_id=data.campaign_id,
        track_opens=data.track_opens,
        track_clicks=data.track_clicks,
        rate_per_minute=data.rate_per_minute,
        send_at=max(data.send_at or now, now),
        status=BulkJobStatus.pending,
    )
    db_session.add(job)
    db_session.flush()
    rows: list[dict] = []
    seen: set[str] = set()
    for r in data.recipients:
        if r.email in seen:
            continue
        seen.add(r.email)
        rows.append(
            {"email": r.email, "name": r.name, "prospect_id": r.prospect_id, "variables": r.variables}
        )
    for chunk_start in range(0, len(data.prospect_ids), CHUNK):
        ids = data.prospect_ids[chunk_start : chunk_start + CHUNK]
        for prospect_id, address in db_session.execute(
            select(Prospect.id, Prospect.email).where(Prospect.id.in_(ids))
        ):
            if address not in seen:
                seen.add(address)
                rows.append({"email": address, "name": None, "prospect_id": prospect_id, "variables": {}})
    add_recipients(db_session=db_session, job=job, rows=rows)
    from serving.core.queue import enqueue

    enqueue(
        db_session,
        MATERIALIZE_TASK,
        queueing_lock=f"bulk:{job.id}",
        scheduled_at=job.send_at,
        organization_id=str(job.organization_id),
        job_id=str(job.id),
    )
    return job


def add_recipients(*, db_session: Session, job: BulkEmailJob, rows: list[dict]) -> None:
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        db_session.execute(
            insert(BulkEmailRecipient),
            [
                {
                    "id": uuid.uuid4(),
                    "organization_id": job.organization_id,
                    "job_id": job.id,
                    "position": start + i,
                    "email": row["email"].lower(),
                    "name": row.get("name"),
                    "prospect_id": row.get("prospect_id"),
                    "variables": row.get("variables") or {},
                    "status": RecipientStatus.pending,
                }
                for i, row in enumerate(chunk)
            ],
        )
    job.total = len(rows)
    db_session.flush()


def materialize_batch(
    *, db_session: Session, settings: Settings, job: BulkEmailJob, now: datetime, batch_size: int = 500
) -> int:
    """Queue emails for the next pending recipients; returns how many recipients were handled."""
    recipients = list(
        db_session.scalars(
            select(BulkEmailRecipient)
            .where(BulkEmailRecipient.job_id == job.id, BulkEmailRecipient.status == RecipientStatus.pending)
            .order_by(BulkEmailRecipient.position)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    )
    if not recipients:
        return 0
    template = db_session.get(EmailTemplate, job.template_id) if job.template_id else None
    mailbox = db_session.get(Mailbox, job.mailbox_id) if job.mailbox_id else None
    blocked = suppression.suppressed(db_session=db_session, addresses=[r.email for r in recipients])
    prospect_ids = [r.prospect_id for r in recipients if r.prospect_id]
    prospects = (
        {p.id: p for p in db_session.scalars(select(Prospect).where(Prospect.id.in_(prospect_ids)))}
        if prospect_ids
        else {}
    )
    if not prospect_ids:
        by_email = {
            p.email: p
            for p in db_session.scalars(
                select(Prospect).where(Prospect.email.in_([r.email for r in recipients]))
            )
        }
    else:
        by_email = {}
    per_minute = job.rate_per_minute
    queued: list[tuple[BulkEmailRecipient, uuid.UUID]] = []
    staged: list[Email] = []
    for recipient in recipients:
        prospect = prospects.get(recipient.prospect_id) or by_email.get(recipient.email)
        request = sending.EmailRequest(
            to=[sending.Recipient(recipient.email, recipient.name)],
            subject=job.subject,
            html=job.html,
            text=job.text,
            template=template,
            variables={**job.variables, **recipient.variables},
            prospect=prospect,
            campaign_id=job.campaign_id,
            track_opens=job.track_opens,
            track_clicks=job.track_clicks,
            send_at=max(job.send_at, now) + timedelta(minutes=recipient.position / per_minute),
            mailbox=mailbox,
            bulk_job_id=job.id,
        )
        try:
            email = sending.queue_email(
                db_session=db_session,
                settings=settings,
                organization_id=job.organization_id,
                user_id=job.user_id,
                team_id=None,
                request=request,
                now=now,
                wake=False,
                suppressed_cache=blocked,
                flush=False,
                stage=staged,
            )
        except sending.RecipientSuppressed as exc:
            recipient.status = RecipientStatus.suppressed
            recipient.reason = exc.reasons.get(recipient.email)
            continue
        queued.append((recipient, email.id))
    sending.insert_staged(db_session=db_session, emails=staged)  # the emails first, then the recipients
    for recipient, email_id in queued:
        recipient.status = RecipientStatus.queued
        recipient.email_id = email_id
    db_session.flush()
    sending.wake_delivery(db_session=db_session, organization_id=job.organization_id)
    return len(recipients)


def materialize(
    *,
    factory: sessionmaker[Session],
    settings: Settings,
    organization_id: uuid.UUID,
    job_id: uuid.UUID,
    now=None,
    batch_size: int = 500,
    max_batches: int | None = None,
) -> int:
    """Materialize a whole job, one committed batch at a time (resumable)."""
    clock = now if callable(now) else (lambda: now) if now is not None else utcnow
    handled = batches = 0
    while max_batches is None or batches < max_batches:
        with tenant_session(factory, organization_id) as session:
            job = session.get(BulkEmailJob, job_id, with_for_update=True)
            if job is None or job.status in (
                BulkJobStatus.cancelled,
                BulkJobStatus.completed,
                BulkJobStatus.paused,
            ):
                break
            current = clock()
            if job.status == BulkJobStatus.pending:
                job.status = BulkJobStatus.running
                job.started_at = current
            count = materialize_batch(
                db_session=session, settings=settings, job=job, now=current, batch_size=batch_size
            )
            if count == 0:
                job.status = BulkJobStatus.completed
                job.completed_at = current
                break
            handled += count
            batches += 1
    return handled


def cancel(*, db_session: Session, job: BulkEmailJob) -> None:
    job.status = BulkJobStatus.cancelled
    db_session.execute(
        update(Email)
        .where(Email.bulk_job_id == job.id, Email.status == EmailStatus.queued)
        .values(status=EmailStatus.cancelled)
    )
    db_session.execute(
        update(BulkEmailRecipient)
        .where(BulkEmailRecipient.job_id == job.id, BulkEmailRecipient.status == RecipientStatus.pending)
        .values(status=RecipientStatus.skipped, reason="job cancelled")
    )
    db_session.flush()


def progress(*, db_session: Session, job_id: uuid.UUID) -> dict[str, int]:
    counts: Counter = Counter()
    for status, count in db_session.execute(
        select(BulkEmailRecipient.status, func.count())
        .where(BulkEmailRecipient.job_id == job_id)
        .group_by(BulkEmailRecipient.status)
    ):
        counts[f"recipients_{status}"] = count
    for status, count in db_session.execute(
        select(Email.status, func.count()).where(Email.bulk_job_id == job_id).group_by(Email.status)
    ):
        counts[status] = count
    return dict(counts)


def job_out(*, db_session: Session, job: BulkEmailJob) -> BulkJobOut:
    out = BulkJobOut.model_validate(job)
    out.progress = progress(db_session=db_session, job_id=job.id)
    return out


def recipients_of(job_id: uuid.UUID):
    return (
        select(BulkEmailRecipient)
        .where(BulkEmailRecipient.job_id == job_id)
        .order_by(BulkEmailRecipient.position)
    )


def email_statuses(*, db_session: Session, email_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not email_ids:
        return {}
    return dict(db_session.execute(select(Email.id, Email.status).where(Email.id.in_(email_ids))).all())

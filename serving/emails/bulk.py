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

from sqlalchemy import ARRAY, BindParameter, Text, Uuid, any_, bindparam, exists, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from serving.core.clock import utcnow
from serving.core.config import Settings
from serving.core.db import tenant_session
from serving.core.principal import Principal
from serving.core.unnest import insert_rows, update_rows
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
MATERIALIZE_CHUNK = 10_000  # recipients per materialize job
MAX_MATERIALIZE_CHUNKS = 16


def get(*, db_session: Session, job_id: uuid.UUID) -> BulkEmailJob | None:
    return db_session.get(BulkEmailJob, job_id)


def create_job(
    *,
    db_session: Session,
    principal: Principal,
    data: BulkJobIn,
    now: datetime | None = None,
    chunk_size: int | None = None,
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
    enqueue_materialize(db_session=db_session, job=job, chunk_size=chunk_size)
    return job


def chunks(total: int, chunk_size: int | None = None) -> list[tuple[int, int]]:
    """The position ranges [first, last) a job of `total` recipients is materialized in, one worker job each:
    several workers then render one bulk job at once (one job under one queueing lock kept it to one)."""
    size = max(1, chunk_size or MATERIALIZE_CHUNK)
    count = min(MAX_MATERIALIZE_CHUNKS, max(1, -(-total // size)))
    size = max(1, -(-total // count))
    return [(first, min(first + size, total)) for first in range(0, max(total, 1), size)]


def enqueue_materialize(*, db_session: Session, job: BulkEmailJob, chunk_size: int | None = None) -> None:
    """Enqueue one materialize job per chunk, each under a queueing lock of its own (a chunk already waiting
    is not queued twice). Chunks only narrow what a job looks at: a recipient is claimed with its row lock
    (SKIP LOCKED) and its status, so overlapping or repeated chunks still queue each recipient once."""
    from serving.core.queue import enqueue

    for first, last in chunks(job.total or 0, chunk_size):
        enqueue(
            db_session,
            MATERIALIZE_TASK,
            queueing_lock=f"bulk:{job.id}:{first}",
            scheduled_at=job.send_at,
            organization_id=str(job.organization_id),
            job_id=str(job.id),
            first=first,
            last=last,
        )


def add_recipients(*, db_session: Session, job: BulkEmailJob, rows: list[dict]) -> None:
    """Store the recipients with one INSERT … SELECT FROM unnest per CHUNK (arrays as parameters)."""
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        insert_rows(
            db_session,
            BulkEmailRecipient.__table__,
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
                    "status": RecipientStatus.pending.value,
                }
                for i, row in enumerate(chunk)
            ],
        )
    job.total = len(rows)
    db_session.flush()


def materialize_batch(
    *,
    db_session: Session,
    settings: Settings,
    job: BulkEmailJob,
    now: datetime,
    batch_size: int = 500,
    first: int | None = None,
    last: int | None = None,
) -> int:
    """Queue emails for the next pending recipients (at positions [first, last) when given); returns how many
    recipients were handled. Recipients are read as plain rows and their emails built as row values
    (`sending.email_values`), inserted with one statement; the recipients' new states leave with one UPDATE
    per outcome."""
    R = BulkEmailRecipient
    stmt = select(R.id, R.position, R.email, R.name, R.prospect_id, R.variables).where(
        R.job_id == job.id, R.status == RecipientStatus.pending
    )
    if first is not None:
        stmt = stmt.where(R.position >= first)
    if last is not None:
        stmt = stmt.where(R.position < last)
    recipients = db_session.execute(
        stmt.order_by(R.position).limit(batch_size).with_for_update(skip_locked=True)
    ).all()
    if not recipients:
        return 0
    template = db_session.get(EmailTemplate, job.template_id) if job.template_id else None
    mailbox = db_session.get(Mailbox, job.mailbox_id) if job.mailbox_id else None
    blocked = suppression.suppressed(db_session=db_session, addresses=[r.email for r in recipients])
    prospect_ids = [r.prospect_id for r in recipients if r.prospect_id]
    prospects = (
        {p.id: p for p in db_session.scalars(select(Prospect).where(Prospect.id == any_(_uuids(prospect_ids))))}
        if prospect_ids
        else {}
    )
    if not prospect_ids:
        by_email = {
            p.email: p
            for p in db_session.scalars(
                select(Prospect).where(Prospect.email == any_(_texts([r.email for r in recipients])))
            )
        }
    else:
        by_email = {}
    per_minute = job.rate_per_minute
    start = max(job.send_at, now)
    secret = settings.tracking_secret  # derived once per batch, not once per recipient
    staged: list[dict] = []
    queued: list[dict] = []
    suppressed: list[dict] = []
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
            send_at=start + timedelta(minutes=recipient.position / per_minute),
            mailbox=mailbox,
            bulk_job_id=job.id,
        )
        try:
            values = sending.email_values(
                db_session=db_session,
                settings=settings,
                organization_id=job.organization_id,
                user_id=job.user_id,
                team_id=None,
                request=request,
                now=now,
                suppressed_cache=blocked,
                tracking_secret=secret,
            )
        except sending.RecipientSuppressed as exc:
            suppressed.append(
                {"id": recipient.id, "status": RecipientStatus.suppressed.value,
                 "reason": exc.reasons.get(recipient.email)}
            )
            continue
        staged.append(values)
        queued.append({"id": recipient.id, "status": RecipientStatus.queued.value, "email_id": values["id"]})
    sending.insert_staged(db_session=db_session, emails=staged)  # the emails first, then the recipients
    update_rows(db_session, R.__table__, queued)
    update_rows(db_session, R.__table__, suppressed)
    sending.wake_delivery(db_session=db_session, organization_id=job.organization_id)
    return len(recipients)


def _uuids(values: list) -> BindParameter:
    return bindparam(None, values, type_=ARRAY(Uuid()))


def _texts(values: list[str]) -> BindParameter:
    return bindparam(None, values, type_=ARRAY(Text()))


def materialize(
    *,
    factory: sessionmaker[Session],
    settings: Settings,
    organization_id: uuid.UUID,
    job_id: uuid.UUID,
    now=None,
    batch_size: int = 500,
    max_batches: int | None = None,
    first: int | None = None,
    last: int | None = None,
) -> int:
    """Materialize a whole job, or its recipients at positions [first, last), one committed batch at a time
    (resumable). Several workers may run chunks of one job at once: each batch holds the job row in SHARE
    mode (a cancel or pause waits for the batches under way, and the batches after it see it), and the job's
    status changes in short transactions of their own, because two batches holding the row in share mode and
    both upgrading their lock would deadlock."""
    clock = now if callable(now) else (lambda: now) if now is not None else utcnow
    handled = batches = 0
    with tenant_session(factory, organization_id) as session:
        current = clock()
        session.execute(
            update(BulkEmailJob)
            .where(BulkEmailJob.id == job_id, BulkEmailJob.status == BulkJobStatus.pending)
            .values(status=BulkJobStatus.running, started_at=current)
        )
    while max_batches is None or batches < max_batches:
        with tenant_session(factory, organization_id) as session:
            job = session.get(BulkEmailJob, job_id, with_for_update={"read": True})
            if job is None or job.status != BulkJobStatus.running:  # cancelled, paused or completed
                return handled
            count = materialize_batch(
                db_session=session, settings=settings, job=job, now=clock(), batch_size=batch_size,
                first=first, last=last,
            )
        if count == 0:
            break
        handled += count
        batches += 1
    else:
        return handled
    with tenant_session(factory, organization_id) as session:
        # the job is complete once no recipient of ANY chunk is pending: the last chunk to finish sees that
        session.execute(
            update(BulkEmailJob)
            .where(
                BulkEmailJob.id == job_id,
                BulkEmailJob.status == BulkJobStatus.running,
                ~exists().where(
                    BulkEmailRecipient.job_id == job_id, BulkEmailRecipient.status == RecipientStatus.pending
                ),
            )
            .values(status=BulkJobStatus.completed, completed_at=clock())
        )
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

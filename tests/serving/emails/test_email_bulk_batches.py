"""Bulk jobs materialize set-based, in batches and in chunks several workers run at once: whatever the batch
size or the chunking, each recipient gets one e-mail, the same e-mail a one-recipient send renders, and the
suppressed get none."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from serving.core.db import tenant_session
from serving.core.principal import Principal
from serving.core.queue import QUEUE_SCHEMA
from serving.emails import bulk, sending, tracking
from serving.emails.models import BulkEmailRecipient, Email, EmailBlacklist, EmailUnsubscribe
from serving.emails.schemas import BulkJobIn
from serving.prospects.models import Prospect

T0 = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
SUBJECT = "Hello {{firstName}} from {{company}}"
HTML = ("<p>Hi {{firstName}} at {{company}} ({{fullName}}), <a href='https://example.com/a'>read</a>"
        " {{unsubscribeUrl}}</p>")
TEXT = "Hi {{firstName}} ({{plan}}) — {{unsubscribeUrl}}"
TOKEN = re.compile(r"/api/v1/unsubscribe/([\w-]+\.[\w-]+)")
COMPARED = ("from_email", "from_name", "to", "cc", "bcc", "subject", "html", "text", "variables", "status",
            "status_reason", "track_opens", "track_clicks", "prospect_id", "campaign_id", "send_at")


def _principal(tenant) -> Principal:
    return Principal(organization_id=tenant.organization_id, user_id=tenant.user.id, role="admin",
                     team_id=tenant.team_id)


def _people(tenant, make_prospect, count: int) -> tuple[list[dict], set[str]]:
    """Recipients (some known prospects, one named, each with variables) and the suppressed among them."""
    tag = uuid.uuid4().hex[:8]
    people = [{"email": f"r{i}-{tag}@example.com", "variables": {"plan": f"p{i % 3}"}} for i in range(count)]
    people[0]["name"] = "Grace <Hopper>"
    make_prospect(email=people[1]["email"], first_name="Ada", last_name="Lovelace", company="Analytical & Co")
    tenant.add(EmailBlacklist, email=people[2]["email"], reason="hard_bounce")
    tenant.add(EmailUnsubscribe, email=people[3]["email"], source="link")
    return people, {people[2]["email"], people[3]["email"]}


def _job(app, tenant, people) -> uuid.UUID:
    with tenant_session(app.state.session_factory, tenant.organization_id) as session:
        return bulk.create_job(db_session=session, principal=_principal(tenant), now=T0, data=BulkJobIn(
            name="launch", subject=SUBJECT, html=HTML, text=TEXT, variables={"plan": "free"},
            recipients=people, rate_per_minute=60)).id


def _emails(app, tenant, job_id, settings) -> dict[str, dict]:
    """The job's e-mails by recipient, the unsubscribe link checked against its own e-mail and taken out."""
    out = {}
    with tenant_session(app.state.session_factory, tenant.organization_id) as session:
        for email in session.scalars(select(Email).where(Email.bulk_job_id == job_id)):
            row = {column: getattr(email, column) for column in COMPARED}
            for field in ("html", "text"):
                if row[field] is None:
                    continue
                for token in TOKEN.findall(row[field]):
                    payload = tracking.verify(token, settings.tracking_secret, kind="u")
                    assert payload == {"k": "u", "o": str(tenant.organization_id), "a": email.to[0]["email"],
                                       "e": str(email.id)}
                row[field] = TOKEN.sub("/api/v1/unsubscribe/TOKEN", row[field])
            assert email.to[0]["email"] not in out
            out[email.to[0]["email"]] = row
    return out


def _recipients(app, tenant, job_id) -> dict[str, tuple]:
    with tenant_session(app.state.session_factory, tenant.organization_id) as session:
        return {r.email: (r.status, r.reason, r.email_id is not None) for r in session.scalars(
            select(BulkEmailRecipient).where(BulkEmailRecipient.job_id == job_id))}


def test_batch_size_does_not_change_a_single_email(app, settings, tenant, make_prospect):
    people, blocked = _people(tenant, make_prospect, 12)
    one_by_one, batched = _job(app, tenant, people), _job(app, tenant, people)
    factory = app.state.session_factory
    for job_id, size in ((one_by_one, 1), (batched, 500)):
        handled = bulk.materialize(factory=factory, settings=settings, organization_id=tenant.organization_id,
                                   job_id=job_id, now=T0, batch_size=size)
        assert handled == len(people)

    expected = _emails(app, tenant, one_by_one, settings)
    assert _emails(app, tenant, batched, settings) == expected
    assert set(expected) == {p["email"] for p in people} - blocked
    assert _recipients(app, tenant, batched) == _recipients(app, tenant, one_by_one) == {
        p["email"]: ("suppressed", "hard_bounce" if p["email"] == people[2]["email"] else "unsubscribed", False)
        if p["email"] in blocked else ("queued", None, True) for p in people}
    # what a one-recipient send of the same request renders (the API's path)
    ada = expected[people[1]["email"]]
    with tenant_session(factory, tenant.organization_id) as session:
        single = sending.queue_email(
            db_session=session, settings=settings, organization_id=tenant.organization_id,
            user_id=tenant.user.id, team_id=None, now=T0, wake=False,
            request=sending.EmailRequest(
                to=[sending.Recipient(people[1]["email"])], subject=SUBJECT, html=HTML, text=TEXT,
                variables={"plan": "free", **people[1]["variables"]}, prospect=ada["prospect_id"] and
                session.get(Prospect, ada["prospect_id"]), send_at=ada["send_at"]))
        assert single.subject == ada["subject"] == "Hello Ada from Analytical & Co"
        assert TOKEN.sub("/api/v1/unsubscribe/TOKEN", single.html) == ada["html"]
        assert "Hi Ada at Analytical &amp; Co (Ada Lovelace)" in ada["html"]  # escaped in HTML only
        assert TOKEN.sub("/api/v1/unsubscribe/TOKEN", single.text) == ada["text"]
        session.rollback()
    assert expected[people[0]["email"]]["to"] == [{"email": people[0]["email"], "name": "Grace <Hopper>"}]
    # rate limiting: position 5 at 60 a minute is due 5 s after the start
    assert expected[people[5]["email"]]["send_at"] == T0 + timedelta(seconds=5)


def test_chunks_run_by_several_workers_at_once_queue_each_recipient_once(app, settings, tenant, make_prospect):
    people, blocked = _people(tenant, make_prospect, 60)
    with tenant_session(app.state.session_factory, tenant.organization_id) as session:
        job_id = bulk.create_job(db_session=session, principal=_principal(tenant), now=T0, chunk_size=20,
                                 data=BulkJobIn(name="launch", subject=SUBJECT, text=TEXT, recipients=people,
                                                rate_per_minute=1000)).id
    with tenant.session() as session:  # one materialize job per chunk, each under its own queueing lock
        queued = session.execute(text(
            f"select queueing_lock, args->>'first', args->>'last' from {QUEUE_SCHEMA}.procrastinate_jobs"
            " where task_name = :task and args->>'job_id' = :job order by id"),
            {"task": bulk.MATERIALIZE_TASK, "job": str(job_id)}).all()
    assert [tuple(row) for row in queued] == [(f"bulk:{job_id}:{first}", str(first), str(first + 20))
                                              for first in (0, 20, 40)]

    factory = app.state.session_factory
    counts: list[int] = []
    errors: list[BaseException] = []

    def work(first, last):
        try:
            counts.append(bulk.materialize(factory=factory, settings=settings,
                                           organization_id=tenant.organization_id, job_id=job_id, now=T0,
                                           batch_size=7, first=first, last=last))
        except BaseException as exc:  # reported below, on the main thread
            errors.append(exc)

    # three chunk workers plus a whole-job one (what the sweep's resume or an old job runs), all at once
    threads = [threading.Thread(target=work, args=chunk) for chunk in [*bulk.chunks(60, 20), (None, None)]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sum(counts) == len(people)  # each recipient handled by exactly one worker
    emails = _emails(app, tenant, job_id, settings)
    assert set(emails) == {p["email"] for p in people} - blocked
    states = _recipients(app, tenant, job_id)
    assert {state for email, state in states.items() if email not in blocked} == {("queued", None, True)}
    with tenant_session(factory, tenant.organization_id) as session:
        job = bulk.get(db_session=session, job_id=job_id)
        assert (job.status, job.completed_at) == ("completed", T0)
        assert bulk.progress(db_session=session, job_id=job_id) == {
            "recipients_queued": 58, "recipients_suppressed": 2, "queued": 58}


def test_a_cancelled_job_stops_its_chunks(app, settings, tenant, make_prospect):
    people, _ = _people(tenant, make_prospect, 30)
    job_id = _job(app, tenant, people)
    factory = app.state.session_factory
    handled = bulk.materialize(factory=factory, settings=settings, organization_id=tenant.organization_id,
                               job_id=job_id, now=T0, batch_size=10, max_batches=1, first=0, last=15)
    assert handled == 10
    with tenant_session(factory, tenant.organization_id) as session:
        bulk.cancel(db_session=session, job=bulk.get(db_session=session, job_id=job_id))
    for first, last in ((0, 15), (15, 30)):
        assert bulk.materialize(factory=factory, settings=settings, organization_id=tenant.organization_id,
                                job_id=job_id, now=T0, first=first, last=last) == 0
    with tenant_session(factory, tenant.organization_id) as session:
        progress = bulk.progress(db_session=session, job_id=job_id)
    assert progress["recipients_skipped"] == 20 and progress["cancelled"] == 8

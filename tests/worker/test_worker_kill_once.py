"""SIGKILL the real worker again and again in the middle of a bulk send: each recipient gets one
Mail Send call at the provider (counted at a loopback SendGrid, not from our own rows)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from serving.cadences.jobs import sweep
from serving.core.db import session_factory, tenant_session
from serving.core.principal import Principal
from serving.emails import bulk
from serving.emails.schemas import BulkJobIn
from tests.conftest import make_settings
from tests.factories import make_tenant
from tests.fake_sendgrid import FakeSendGrid
from tests.worker.worker_env import ROOT, worker_env

RECIPIENTS = 300
KILLS = 6


def _env(database: str, home: Path, sendgrid_url: str) -> dict:
    return worker_env(
        database, home, EMAIL_BACKEND="sendgrid", SENDGRID_API_KEY="SG.test-key", SENDGRID_API_HOST=sendgrid_url,
        WORKER_CONCURRENCY="2",
        # a claim left by a dead worker is looked up after 1 s (default 30 s); the fake's activity
        # feed has no indexing lag
        EMAIL_CLAIM_GRACE_SECONDS="1", SENDGRID_ACTIVITY_LAG_SECONDS="0")


def _start(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "revorc.worker_cli"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
        start_new_session=True,
    )


def _unfinished(owner, job_id) -> int:
    with owner.connect() as conn:
        return conn.execute(
            text(
                "select (select count(*) from app.bulk_email_recipients where job_id = :job and status = 'pending')"
                " + (select count(*) from app.emails where bulk_job_id = :job and status in ('queued', 'sending'))"
            ),
            {"job": job_id},
        ).scalar_one()


@pytest.mark.slow
def test_sigkilled_worker_sends_each_recipient_at_most_once(fresh_database, tmp_path):
    settings = make_settings(fresh_database, tmp_path)
    tenant = make_tenant(settings)
    factory = session_factory(settings.api_database_url, 4)
    owner = create_engine(settings.owner_database_url)
    principal = Principal(organization_id=tenant.organization_id, user_id=tenant.user.id, role="user")
    recipients = [f"r{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(RECIPIENTS)]
    with tenant_session(factory, tenant.organization_id) as session:
        job_id = bulk.create_job(
            db_session=session,
            principal=principal,
            data=BulkJobIn(
                name="launch",
                subject="Launch",
                text="Hello",
                recipients=[{"email": r} for r in recipients],
                rate_per_minute=100_000,
            ),
        ).id
    log = tmp_path / "worker.log"
    # 20 ms of provider latency after the provider has taken the message: the window in which a
    # kill used to roll the row back to `queued` after the email had gone out.
    with FakeSendGrid(latency=0.02) as sendgrid:
        env = _env(fresh_database, tmp_path, sendgrid.url)
        kills = 0
        for kill in range(KILLS):
            worker = _start(env, log)
            target = (kill + 1) * RECIPIENTS // (KILLS + 2)
            deadline = time.monotonic() + 40
            try:
                while len(sendgrid.sends) < target:
                    assert time.monotonic() < deadline, log.read_text()[-3000:]
                    assert worker.poll() is None, log.read_text()[-3000:]
                    time.sleep(0.005)
            finally:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(10)
            kills += 1
            # what the minute tick does, so that the pace of this test never depends on it
            sweep(factory=factory, now=datetime.now(UTC))
        worker = _start(env, log)
        try:
            deadline = time.monotonic() + 60
            while _unfinished(owner, job_id):
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                assert worker.poll() is None, log.read_text()[-3000:]
                time.sleep(0.2)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(30)
        calls = sendgrid.calls_per_email()
        lookups = len(sendgrid.activity_queries)
        posted_to = sorted(b["personalizations"][0]["to"][0]["email"] for b in sendgrid.sends)

    with owner.connect() as conn:
        settled = conn.execute(
            text("select status_reason, count(*) from app.emails where bulk_job_id = :job"
                 " and status_reason is not null group by 1"),
            {"job": job_id},
        ).all()
        emails = conn.execute(
            text("select id::text, status, e.to->0->>'email' from app.emails e where bulk_job_id = :job"),
            {"job": job_id},
        ).all()
    owner.dispose()
    assert kills == KILLS
    assert len(emails) == RECIPIENTS
    doubled = {email_id: n for email_id, n in calls.items() if n > 1}
    assert doubled == {}, f"{len(doubled)} emails were sent more than once"
    assert posted_to == sorted(recipients)  # every recipient exactly one call, nobody lost
    assert {status for _, status, _ in emails} == {"sent"}
    assert {email_id for email_id, _, _ in emails} == set(calls)
    # the kills land while the provider holds a message (20 ms latency): those claims were settled
    # by asking SendGrid's activity feed, not by sending again
    confirmed = dict(settled).get("confirmed after the worker stopped: found in SendGrid's activity", 0)
    assert confirmed >= 1 and lookups >= confirmed, (lookups, settled)

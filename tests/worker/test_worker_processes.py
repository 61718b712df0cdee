"""Three real worker processes (as on three machines) share one Postgres queue: a bulk job (in three chunks, each
its own queue job) and a batch of due cadence steps are materialized, claimed and delivered by whichever worker
gets there first, and the provider (a loopback SendGrid, counting its own Mail Send calls) sees each recipient
exactly once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from serving.cadences import service as cadences
from serving.cadences.schemas import CadenceIn
from serving.core.db import session_factory, tenant_session
from serving.core.principal import Principal
from serving.emails import bulk
from serving.emails.schemas import BulkJobIn
from serving.prospects.models import Prospect
from tests.conftest import make_settings
from tests.factories import make_tenant
from tests.fake_sendgrid import FakeSendGrid
from tests.worker.worker_env import ROOT, worker_env

RECIPIENTS = 300
ENROLLMENTS = 60
WORKERS = 3


def _start(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "revorc.worker_cli"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=log.open("ab"), start_new_session=True)


def _unfinished(owner, organization_id) -> int:
    with owner.connect() as conn:
        return conn.execute(text(
            "select (select count(*) from app.bulk_email_recipients where organization_id = :org"
            "        and status = 'pending')"
            " + (select count(*) from app.cadence_enrollments where organization_id = :org and next_step_number = 1)"
            " + (select count(*) from app.emails where organization_id = :org and status in ('queued', 'sending'))"),
            {"org": organization_id}).scalar_one()


@pytest.mark.slow
def test_three_worker_processes_send_each_recipient_once(fresh_database, tmp_path):
    settings = make_settings(fresh_database, tmp_path)
    tenant = make_tenant(settings)
    factory = session_factory(settings.api_database_url, 4)
    owner = create_engine(settings.owner_database_url)
    principal = Principal(organization_id=tenant.organization_id, user_id=tenant.user.id, role="admin",
                          team_id=tenant.team_id)
    bulk_to = [f"b{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(RECIPIENTS)]
    prospects = [tenant.add(Prospect, email=f"c{i}-{uuid.uuid4().hex[:6]}@example.com", first_name=f"P{i}")
                 for i in range(ENROLLMENTS)]
    with tenant_session(factory, tenant.organization_id) as session:
        job = bulk.create_job(db_session=session, principal=principal, chunk_size=RECIPIENTS // WORKERS,
                              data=BulkJobIn(name="launch", subject="Launch", text="Hello",
                                             recipients=[{"email": r} for r in bulk_to], rate_per_minute=100_000))
        cadence = cadences.create(db_session=session, principal=principal, data=CadenceIn.model_validate({
            "name": "race", "settings": {"businessHoursOnly": False},
            "steps": [{"type": "email", "subject": "Hi {{firstName}}", "content": "Quick question"},
                      {"type": "call", "delayDays": 2}]}))
        results = cadences.enroll(db_session=session, principal=principal, cadence=cadence,
                                  prospect_ids=[p.id for p in prospects],
                                  now=datetime.now(UTC) - timedelta(minutes=1))
    assert {r["result"] for r in results} == {"enrolled"}

    logs = [tmp_path / f"worker-{n}.log" for n in range(WORKERS)]
    with FakeSendGrid(latency=0.01) as sendgrid:
        env = worker_env(fresh_database, tmp_path, EMAIL_BACKEND="sendgrid", SENDGRID_API_KEY="SG.test-key",
                         SENDGRID_API_HOST=sendgrid.url, WORKER_CONCURRENCY="2")
        workers = [_start(env, log) for log in logs]
        try:
            deadline = time.monotonic() + 120
            while _unfinished(owner, tenant.organization_id):
                assert time.monotonic() < deadline, "\n".join(log.read_text()[-2000:] for log in logs)
                assert all(w.poll() is None for w in workers), "\n".join(log.read_text()[-2000:] for log in logs)
                time.sleep(0.2)
        finally:
            for worker in workers:
                os.killpg(worker.pid, signal.SIGTERM)
            for worker in workers:
                worker.wait(30)
        calls = sendgrid.calls_per_email()
        posted_to = Counter(b["personalizations"][0]["to"][0]["email"] for b in sendgrid.sends)

    with owner.connect() as conn:
        statuses = Counter(conn.execute(text("select status from app.emails where organization_id = :org"),
                                        {"org": tenant.organization_id}).scalars())
    assert {email_id: n for email_id, n in calls.items() if n > 1} == {}
    assert posted_to == Counter(bulk_to + [p.email for p in prospects])  # each exactly once, nobody lost
    assert statuses == {"sent": RECIPIENTS + ENROLLMENTS}
    with owner.connect() as conn:
        job_status = conn.execute(text("select status from app.bulk_email_jobs where id = :job"),
                                  {"job": job.id}).scalar_one()
    assert job_status == "completed"
    # the job went out in one chunk per worker, each its own queue job (procrastinate logs a job's arguments)
    done = [line for log in logs for line in log.read_text().splitlines()
            if f"Job {bulk.MATERIALIZE_TASK}[" in line and "ended with status: Success" in line]
    assert {first for first in (0, 100, 200) if any(
        re.search(rf"\bfirst={first}\b", line) and re.search(rf"\blast={first + 100}\b", line) for line in done)
    } == {0, 100, 200}, done
    owner.dispose()
    # the work really was shared (each worker logs the jobs it runs)
    busy = [log for log in logs if any(job in log.read_text() for job in
                                       ("emails.deliver_due", "emails.materialize_bulk", "cadences.run_due"))]
    assert len(busy) >= 2, [log.read_text()[-500:] for log in logs]


def test_worker_processes_follow_the_setting_and_the_option(tmp_path):
    from revorc.worker_cli import worker_processes

    settings = make_settings("postgresql+psycopg://localhost/unused", tmp_path).model_copy(
        update={"worker_processes": 3})
    assert [p.name for p in worker_processes(settings)] == ["worker", "worker-2", "worker-3"]
    assert all(p.args[-1] == "revorc.worker_cli" for p in worker_processes(settings))
    assert len(worker_processes(settings, 5)) == 5

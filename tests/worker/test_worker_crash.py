"""The real procrastinate worker: killed (SIGKILL) mid bulk job and restarted, sends once per recipient."""

from __future__ import annotations

import asyncio
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

from serving import worker
from serving.cadences.jobs import sweep
from serving.core.db import session_factory, tenant_session
from serving.core.principal import Principal
from serving.emails import bulk
from serving.emails.schemas import BulkJobIn
from tests.conftest import make_settings
from tests.factories import make_tenant
from tests.worker.worker_env import ROOT, worker_env

RECIPIENTS = 150


def _env(database: str, home: Path) -> dict:
    return worker_env(database, home, SLOW_DELIVERY_SECONDS="0.03")


def _outbox(home: Path, organization_id) -> list[Path]:
    folder = home / "outbox" / str(organization_id)
    return list(folder.glob("*.eml")) if folder.exists() else []


async def _retry_stalled(settings) -> None:
    """What the worker's `stalled` periodic task does on its next minute tick."""
    with worker.queue.replace_connector(worker.connector_for(settings)):
        async with worker.queue.open_async():
            await worker.retry_stalled_jobs(int(time.time()))


@pytest.mark.slow
def test_killed_worker_mid_bulk_job_sends_each_recipient_exactly_once(fresh_database, tmp_path):
    settings = make_settings(fresh_database, tmp_path)
    tenant = make_tenant(settings)
    factory = session_factory(settings.api_database_url, 4)
    principal = Principal(organization_id=tenant.organization_id, user_id=tenant.user.id, role="user")
    recipients = [{"email": f"r{i}-{uuid.uuid4().hex[:6]}@example.com"} for i in range(RECIPIENTS)]
    with tenant_session(factory, tenant.organization_id) as session:
        job = bulk.create_job(
            db_session=session,
            principal=principal,
            data=BulkJobIn(
                name="launch",
                subject="Launch {{firstName}}",
                text="Hello",
                recipients=recipients,
                rate_per_minute=100_000,
            ),
        )
    env = _env(fresh_database, tmp_path)
    worker = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/worker/slow_worker.py")],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "worker.log").open("wb"),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        deadline = time.monotonic() + 20
        while len(_outbox(tmp_path, tenant.organization_id)) < RECIPIENTS // 3:
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            assert worker.poll() is None, "worker exited early"
            time.sleep(0.05)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
    partial = len(_outbox(tmp_path, tenant.organization_id))
    assert 0 < partial < RECIPIENTS

    # The killed worker's jobs stay `doing`. Once its heartbeat is stale (aged here instead of waiting
    # 30 s), the periodic stalled-job retry puts them back to `todo` for the next worker.
    owner = create_engine(settings.owner_database_url)
    with owner.begin() as conn:
        doing = conn.execute(text("select id from procrastinate.procrastinate_jobs where status = 'doing'")).scalars()
        doing = list(doing)
        assert doing
        conn.execute(text("update procrastinate.procrastinate_workers"
                          " set last_heartbeat = now() - interval '10 minutes'"))
    asyncio.run(_retry_stalled(settings))
    with owner.connect() as conn:
        statuses = conn.execute(text("select status from procrastinate.procrastinate_jobs where id = any(:ids)"),
                                {"ids": doing}).scalars().all()
    owner.dispose()
    # back to `todo`, or closed as `failed` when the same wake-up already waits under its queueing lock
    assert len(statuses) == len(doing) and set(statuses) <= {"todo", "failed"}, statuses

    # The killed worker's job stays `doing`; the periodic sweep finds the due rows and re-wakes them.
    assert sweep(factory=factory, now=datetime.now(UTC)) >= 1
    restarted = subprocess.run(
        [sys.executable, str(ROOT / "tests/worker/slow_worker.py")],
        # the claim the kill left `sending` is settled at once (no grace period) by asking the outbox
        env={**env, "RUN_ONCE": "1", "SLOW_DELIVERY_SECONDS": "0", "EMAIL_CLAIM_GRACE_SECONDS": "0"},
        cwd=ROOT,
        timeout=120,
        capture_output=True,
    )
    assert restarted.returncode == 0, restarted.stderr.decode()[-2000:]

    files = _outbox(tmp_path, tenant.organization_id)
    assert len(files) == RECIPIENTS
    owner = create_engine(settings.owner_database_url)
    with owner.connect() as conn:
        rows = conn.execute(
            text(
                "select r.email, count(e.id), bool_and(e.status = 'sent') from app.bulk_email_recipients r "
                "join app.emails e on e.id = r.email_id where r.job_id = :job group by r.email"
            ),
            {"job": job.id},
        ).all()
        per_address = conn.execute(
            text(
                "select count(*), count(distinct to_email) from ("
                "select e.to->0->>'email' as to_email from app.emails e "
                "where e.bulk_job_id = :job) t"
            ),
            {"job": job.id},
        ).one()
        job_status = conn.execute(
            text("select status from app.bulk_email_jobs where id = :job"), {"job": job.id}
        ).scalar()
    owner.dispose()
    assert len(rows) == RECIPIENTS
    assert all(count == 1 and sent for _, count, sent in rows)
    assert per_address == (RECIPIENTS, RECIPIENTS)
    assert job_status == "completed"
    sent_to = sorted(p.read_text().split("To: ", 1)[1].split("\n", 1)[0].strip() for p in files)
    assert sent_to == sorted(r["email"] for r in recipients)

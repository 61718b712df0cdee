"""What a dead worker leaves behind: jobs stuck in `doing`, due work waiting for the next minute
tick, half-written outbox files. Each is settled by the next worker or sweep."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from serving import worker
from serving.core.clock import utcnow
from serving.core.db import session_factory, tenant_session
from serving.emails import runner, sending
from serving.emails.delivery.outbox import OutboxBackend
from serving.emails.models import Email
from tests.conftest import make_settings
from tests.factories import make_tenant
from tests.worker.worker_env import ROOT, worker_env


def _env(database: str, home: Path) -> dict:
    return worker_env(database, home)


def _queue(settings, factory, tenant, *, wake: bool = True) -> Email:
    with tenant_session(factory, tenant.organization_id) as session:
        return sending.queue_email(
            db_session=session,
            settings=settings,
            organization_id=tenant.organization_id,
            user_id=tenant.user.id,
            team_id=None,
            request=sending.EmailRequest(
                to=[sending.Recipient("someone@example.com")], subject="Hi", text="Hello"
            ),
            wake=wake,
        )


async def _retry_stalled(settings) -> None:
    with worker.queue.replace_connector(worker.connector_for(settings)):
        async with worker.queue.open_async():
            await worker.retry_stalled_jobs(int(time.time()))


def _insert_job(conn, *, task: str, qlock: str, status: str, worker_id=None) -> int:
    return conn.execute(
        text(
            "insert into procrastinate.procrastinate_jobs (queue_name, task_name, queueing_lock, args, status,"
            " worker_id) values ('outreach', :task, :qlock, '{}',"
            " cast(:status as procrastinate.procrastinate_job_status), :worker) returning id"
        ),
        {"task": task, "qlock": qlock, "status": status, "worker": worker_id},
    ).scalar_one()


def test_stalled_job_whose_wake_up_already_waits_is_closed_and_the_sweep_goes_on(fresh_database, tmp_path):
    settings = make_settings(fresh_database, tmp_path)
    owner = create_engine(settings.owner_database_url)
    with owner.begin() as conn:
        dead = conn.execute(
            text("insert into procrastinate.procrastinate_workers (last_heartbeat)"
                 " values (now() - interval '10 minutes') returning id")
        ).scalar_one()
        task = sending.DELIVER_TASK
        twin_of_waiting = _insert_job(conn, task=task, qlock="deliver:a", status="doing", worker_id=dead)
        waiting = _insert_job(conn, task=task, qlock="deliver:a", status="todo")
        alone = _insert_job(conn, task=task, qlock="deliver:b", status="doing", worker_id=dead)
    asyncio.run(_retry_stalled(settings))  # no UniqueViolation
    with owner.connect() as conn:
        statuses = dict(conn.execute(text("select id, status::text from procrastinate.procrastinate_jobs")).all())
    owner.dispose()
    assert statuses == {twin_of_waiting: "failed", waiting: "todo", alone: "todo"}


def test_a_starting_worker_picks_up_due_email_at_once(fresh_database, tmp_path):
    """A worker killed just after the minute's sweep ran: its wake-up job stays `doing` (its heartbeat
    is still fresh) and this minute's and the next minute's ticks are taken."""
    settings = make_settings(fresh_database, tmp_path)
    tenant = make_tenant(settings)
    factory = session_factory(settings.api_database_url, 2)
    email = _queue(settings, factory, tenant)
    owner = create_engine(settings.owner_database_url)
    now = int(time.time())
    with owner.begin() as conn:
        dead = conn.execute(
            text("insert into procrastinate.procrastinate_workers default values returning id")
        ).scalar_one()
        conn.execute(
            text("update procrastinate.procrastinate_jobs set status = 'doing', worker_id = :w"), {"w": dead}
        )
        for tick in (now - now % 60, now - now % 60 + 60):
            for task, periodic_id in (("outreach.sweep", "outreach-sweep"), ("worker.retry_stalled_jobs", "stalled")):
                conn.execute(
                    text("insert into procrastinate.procrastinate_periodic_defers"
                         " (task_name, periodic_id, defer_timestamp) values (:t, :p, :ts)"),
                    {"t": task, "p": periodic_id, "ts": tick},
                )
    log = tmp_path / "worker.log"
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "revorc.worker_cli"],
        env=_env(fresh_database, tmp_path),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        start_new_session=True,
    )
    try:
        while True:
            with owner.connect() as conn:
                status = conn.execute(text("select status from app.emails where id = :id"), {"id": email.id}).scalar()
            if status == "sent":
                break
            assert time.monotonic() - started < 20, log.read_text()[-3000:]
            assert process.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(30)
        owner.dispose()


def test_a_kill_between_the_outbox_write_and_the_rename_leaves_a_claim_and_no_temp_file(
    database, tmp_path
):
    settings = make_settings(database, tmp_path)
    tenant = make_tenant(settings)
    factory = session_factory(settings.api_database_url, 2)
    email = _queue(settings, factory, tenant, wake=False)
    folder = settings.outbox_dir / str(tenant.organization_id)
    killed = subprocess.run(
        [sys.executable, str(ROOT / "tests/worker/kill_before_rename.py"), str(tenant.organization_id)],
        env=_env(database, tmp_path),
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    left = [p.name for p in folder.iterdir()]
    assert len(left) == 1 and left[0].startswith(f".{email.id}.") and left[0].endswith(".tmp"), left
    with tenant_session(factory, tenant.organization_id) as session:
        assert session.get(Email, email.id).status == "sending"  # a visible claim, not a silent `queued`

    outcome = runner.deliver_due(
        factory=factory,
        settings=settings,
        organization_id=tenant.organization_id,
        backend=OutboxBackend(settings.outbox_dir),
        now=utcnow() + timedelta(seconds=settings.email_claim_grace_seconds + 1),
    )
    assert outcome == {"requeued": 1, "sent": 1}
    assert sorted(p.name for p in folder.iterdir()) == [f"{email.id}.eml"]
    with tenant_session(factory, tenant.organization_id) as session:
        assert session.get(Email, email.id).status == "sent"

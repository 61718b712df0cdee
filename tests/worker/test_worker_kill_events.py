"""SIGKILL the real worker in the middle of delivering domain events: nothing is lost and no subscriber sees an
event twice. The worker is held inside its delivery transaction by a row lock the test takes (the timeline's
insert needs a key-share lock on the prospect), killed there, and a new worker finishes the work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text

from pipelines.ingest.ledger import psycopg_conninfo
from serving.core.db import session_factory, tenant_session
from serving.core.principal import Principal
from serving.prospects import service as prospects
from serving.prospects.models import Prospect
from serving.prospects.schemas import ProspectUpdate
from tests.conftest import make_settings
from tests.factories import make_tenant, unique_email
from tests.worker.worker_env import ROOT, worker_env

PROSPECTS = 20


def _start(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "revorc.worker_cli"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=log.open("ab"), start_new_session=True)


def _waiting_on_lock(conn: psycopg.Connection) -> int:
    return conn.execute("select count(*) from pg_stat_activity where datname = current_database()"
                        " and wait_event_type = 'Lock'").fetchone()[0]


def _deliveries(owner, org) -> dict[str, int]:
    with owner.connect() as conn:
        return dict(conn.execute(text(
            "select status || ':' || attempts, count(*) from app.domain_event_deliveries"
            " where organization_id = :org and subscriber = 'timeline.prospect_status' group by 1"),
            {"org": org}).all())


@pytest.mark.slow
def test_worker_killed_mid_delivery_loses_nothing_and_doubles_nothing(fresh_database, tmp_path):
    settings = make_settings(fresh_database, tmp_path)
    tenant = make_tenant(settings)
    org = tenant.organization_id
    factory = session_factory(settings.api_database_url, 4)
    owner = create_engine(settings.owner_database_url)
    people = [tenant.add(Prospect, email=unique_email("p"), first_name=f"P{i}") for i in range(PROSPECTS)]
    principal = Principal(organization_id=org, user_id=tenant.user.id, role="user", team_id=tenant.team_id)
    log = tmp_path / "worker.log"
    env = worker_env(fresh_database, tmp_path, WORKER_CONCURRENCY="1")
    with psycopg.connect(psycopg_conninfo(fresh_database)) as locker, \
            psycopg.connect(psycopg_conninfo(fresh_database), autocommit=True) as watcher:
        with tenant_session(factory, org) as session:
            for person in people:
                prospect = session.get(Prospect, person.id)
                prospects.update(db_session=session, prospect=prospect, data=ProspectUpdate(status="contacted"),
                                 principal=principal)
        locker.execute("select id from app.prospects where id = %s for update", (people[PROSPECTS // 2].id,))
        worker = _start(env, log)
        try:
            deadline = time.monotonic() + 60
            while not _waiting_on_lock(watcher):
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                assert worker.poll() is None, log.read_text()[-3000:]
                time.sleep(0.05)
            # The worker is inside its delivery transaction, half-way through the batch.
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
        locker.rollback()
    # Everything the killed worker did was rolled back with its transaction: no entry, no claim settled.
    with owner.connect() as conn:
        entries = conn.execute(text("select count(*) from app.activities where organization_id = :org"
                                    " and type = 'status_change'"), {"org": org}).scalar_one()
    assert entries == 0
    assert sum(_deliveries(owner, org).get(k, 0) for k in ("done:1", "dead:1")) == 0

    worker = _start(env, log)  # its start-up sweep wakes the organization's due deliveries
    try:
        deadline = time.monotonic() + 90
        while _deliveries(owner, org) != {"done:1": PROSPECTS}:
            assert time.monotonic() < deadline, (_deliveries(owner, org), log.read_text()[-3000:])
            assert worker.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
    with owner.connect() as conn:
        per_prospect = conn.execute(text(
            "select a.prospect_id, count(*), min(a.metadata ->> 'eventId') = min(e.id::text)"
            " from app.activities as a inner join app.domain_events as e"
            " on e.subject_id = a.prospect_id and e.type = 'prospect.updated'"
            " where a.organization_id = :org and a.type = 'status_change' group by 1"), {"org": org}).all()
    owner.dispose()
    assert len(per_prospect) == PROSPECTS
    assert {(count, same_event) for _, count, same_event in per_prospect} == {(1, True)}

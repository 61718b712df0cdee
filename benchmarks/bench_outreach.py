"""Benchmark (not a test): outreach throughput — a bulk job's e-mails rendered and queued per second, and due
cadence steps run per second.

    .venv/bin/python -m benchmarks.bench_outreach [--recipients 100000] [--enrollments 20000] [--processes 2]

A scratch database (`DATABASE_URL` when set, else an embedded PostgreSQL) is migrated and gets one organization.
The bulk job's request is validated (`BulkJobIn`: pydantic and e-mail syntax, timed apart: the API pays it per
request), stored through `bulk.create_job` and materialized by `bulk.materialize` — one chunk per process
(`--processes`, as that many worker processes run the chunk jobs `create_job` queues). The cadence part enrolls
`--enrollments` prospects due now in a cadence whose first step is an e-mail and runs `cadences.run_due` (the
worker's `cadences.run_due` job). Delivery itself (the provider call) is not timed: it is bound by the provider.

Baseline in the same run: the database alone writing the same rows — an `INSERT … SELECT` copying the e-mails
just queued (and, for the bulk job, an `UPDATE` of its recipients; for cadences, copies of the step runs and an
`UPDATE` of the enrollments), in a transaction rolled back: the floor no client can beat on this machine now.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from benchmarks.common import Row, print_rows, scratch_database

BULK_TARGET_SECONDS = 30.0  # for 100k recipients
BULK_TARGET_RATE = 100_000 / BULK_TARGET_SECONDS
STEPS_TARGET_RATE = 3000.0


def run(*, prospects: int, seed: int, console: Console, recipients: int | None = None,
        enrollments: int | None = None, processes: int = 2) -> list[Row]:
    """`prospects` sizes both parts unless `recipients`/`enrollments` are given (`seed` names the data only:
    nothing here is random)."""
    recipients = prospects if recipients is None else recipients
    enrollments = prospects if enrollments is None else enrollments
    with scratch_database("revorc-bench-outreach-") as (owner_url, home):
        return _run(owner_url, home, recipients=recipients, enrollments=enrollments, processes=processes,
                    console=console)


def _run(owner_url: str, home: Path, *, recipients: int, enrollments: int, processes: int,
         console: Console) -> list[Row]:
    from serving.cadences import service as cadences
    from serving.cadences.schemas import CadenceIn
    from serving.core.config import APP_ROLE, Settings
    from serving.core.db import session_factory, tenant_session
    from serving.core.migrate import upgrade
    from serving.core.principal import Principal
    from serving.emails import bulk
    from serving.emails.schemas import BulkJobIn
    from serving.organizations.service import create_organization

    upgrade(owner_url)
    app_url = make_url(owner_url).set(username=APP_ROLE, password=None).render_as_string(hide_password=False)
    settings = Settings(REVORC_ENV="test", REVORC_HOME=str(home), DATABASE_URL=owner_url,
                        APP_DATABASE_URL=app_url, JWT_SECRET="x" * 40)
    owner = create_engine(owner_url)
    with Session(owner) as session, session.begin():
        org, team, admin = create_organization(
            db_session=session, name=f"bench-{uuid.uuid4().hex[:6]}",
            admin_email=f"bench-{uuid.uuid4().hex[:6]}@bench.example.com", admin_password="bench-password-123")
        principal = Principal(organization_id=org.id, user_id=admin.id, role="admin", team_id=team.id)
    factory = session_factory(settings.api_database_url, 4)
    rows: list[Row] = []

    # -- bulk job: render + queue ---------------------------------------------------------------------------
    if recipients:
        people = [{"email": f"bulk{i}@bench.example.com", "variables": {"firstName": f"P{i}"}}
                  for i in range(recipients)]
        with console.status(f"bulk job: validating and storing {recipients:,} recipients"):
            started = time.perf_counter()
            data = BulkJobIn(
                name="bench", subject="Hello {{firstName}} from {{company}}",
                html="<p>Hi {{firstName}}, <a href='https://example.com/a'>read</a></p>",
                text="Hi {{firstName}}", recipients=people, rate_per_minute=100_000)
            validated = time.perf_counter() - started
            started = time.perf_counter()
            with tenant_session(factory, principal.organization_id) as session:
                job = bulk.create_job(db_session=session, principal=principal, data=data,
                                      chunk_size=-(-recipients // processes))
                chunks = bulk.chunks(recipients, -(-recipients // processes))
            stored = time.perf_counter() - started
        with console.status(f"bulk job: rendering and queueing {recipients:,} e-mails in {len(chunks)} process(es)"):
            started = time.perf_counter()
            if len(chunks) == 1:
                queued = bulk.materialize(factory=factory, settings=settings,
                                          organization_id=principal.organization_id, job_id=job.id, batch_size=1000)
            else:  # forked: each process opens its own connections (as a worker process does)
                factory.kw["bind"].dispose()  # no pooled connection is inherited
                with ProcessPoolExecutor(len(chunks), mp_context=multiprocessing.get_context("fork")) as pool:
                    queued = sum(pool.map(_materialize_chunk, [
                        (settings, principal.organization_id, job.id, first, last) for first, last in chunks]))
            elapsed = time.perf_counter() - started
        floor = _bulk_floor(owner, job.id)
        rate = queued / elapsed if elapsed else 0.0
        total = stored + elapsed
        target_seconds = BULK_TARGET_SECONDS * recipients / 100_000
        rows.append(Row(
            what=f"bulk e-mail render + enqueue ({recipients:,} recipients, {len(chunks)} process(es))",
            measured=f"{rate:,.0f} e-mails/s; {elapsed:.1f} s (+{stored:.1f} s storing the job; "
                     f"validating the request {validated:.1f} s)",
            baseline=f"the database alone writing the same rows: {floor:.1f} s ({queued / floor:,.0f}/s)",
            ratio=elapsed / floor if floor else None,
            target=f"≤ {target_seconds:.0f} s incl. storing (≥ {BULK_TARGET_RATE:,.0f}/s)",
            met=total <= target_seconds))

    # -- due cadence steps ----------------------------------------------------------------------------------
    if enrollments:
        with tenant_session(factory, principal.organization_id) as session:
            cadence = cadences.create(db_session=session, principal=principal, data=CadenceIn.model_validate({
                "name": "bench", "settings": {"businessHoursOnly": False},
                "steps": [{"type": "email", "subject": "Hi {{firstName}}", "content": "Quick question"},
                          {"type": "call", "delayDays": 2}]}))
        now = datetime.now(UTC)
        with owner.begin() as conn:
            conn.execute(text(
                "insert into app.prospects (id, organization_id, email, first_name, company, timezone, status) "
                "select gen_random_uuid(), :org, 'enr' || g || '@bench.example.com', 'P' || g, 'Co' || (g % 500), "
                "(array['America/New_York','Europe/London','Asia/Tokyo'])[1 + g % 3], 'new' "
                "from generate_series(1, :n) g"), {"org": principal.organization_id, "n": enrollments})
            conn.execute(text(
                "insert into app.cadence_enrollments (id, organization_id, cadence_id, prospect_id, status, "
                "next_step_number, next_run_at, enrolled_at, created_at, updated_at) "
                "select gen_random_uuid(), :org, :cadence, p.id, 'active', 1, :due, :due, now(), now() "
                "from app.prospects p where p.organization_id = :org and p.email like 'enr%@bench.example.com'"),
                {"org": principal.organization_id, "cadence": cadence.id, "due": now - timedelta(minutes=1)})
        with console.status(f"cadences: running {enrollments:,} due steps"):
            started = time.perf_counter()
            outcomes = cadences.run_due(factory=factory, settings=settings,
                                        organization_id=principal.organization_id, now=now, batch_size=500)
            elapsed = time.perf_counter() - started
        floor = _cadence_floor(owner, cadence.id)
        steps = sum(outcomes.values())
        rate = steps / elapsed if elapsed else 0.0
        rows.append(Row(
            what=f"due cadence steps ({enrollments:,} enrollments)",
            measured=f"{rate:,.0f} steps/s ({steps:,} in {elapsed:.1f} s: {dict(outcomes)})",
            baseline=f"the database alone writing the same rows: {floor:.1f} s ({steps / floor:,.0f} steps/s)",
            ratio=elapsed / floor if floor else None,
            target=f"≥ {STEPS_TARGET_RATE:,.0f} steps/s", met=rate >= STEPS_TARGET_RATE))
    factory.kw["bind"].dispose()  # the embedded server stops right after
    owner.dispose()
    return rows


def _materialize_chunk(args: tuple) -> int:
    """One chunk of the bulk job in a forked process, on connections of its own."""
    from serving.core.db import session_factory
    from serving.emails import bulk

    settings, organization_id, job_id, first, last = args
    factory = session_factory(settings.api_database_url, 2)
    try:
        return bulk.materialize(factory=factory, settings=settings, organization_id=organization_id,
                                job_id=job_id, batch_size=1000, first=first, last=last)
    finally:
        factory.kw["bind"].dispose()


_EMAIL_COPY = (
    "insert into app.emails ({cols}, id, message_id) "
    "select {values}, gen_random_uuid(), gen_random_uuid()::text || '@copy' from app.emails where {where}")


def _email_columns(conn) -> str:
    names = conn.execute(text(
        "select string_agg(quote_ident(column_name), ', ' order by ordinal_position) from information_schema.columns"
        " where table_schema = 'app' and table_name = 'emails' and column_name not in ('id', 'message_id')"
    )).scalar_one()
    return names


def _timed_rollback(owner, statements: list[tuple[str, dict]]) -> float:
    with owner.connect() as conn:
        transaction = conn.begin()
        started = time.perf_counter()
        for sql, params in statements:
            conn.execute(text(sql), params)
        elapsed = time.perf_counter() - started
        transaction.rollback()
    return elapsed


def _bulk_floor(owner, job_id) -> float:
    """The job's e-mails copied and its recipients updated by SQL alone (rolled back)."""
    with owner.connect() as conn:
        cols = _email_columns(conn)
    return _timed_rollback(owner, [
        (_EMAIL_COPY.format(cols=cols, values=cols, where="bulk_job_id = :job"), {"job": job_id}),
        ("update app.bulk_email_recipients set status = 'queued', email_id = null where job_id = :job",
         {"job": job_id}),
    ])


def _cadence_floor(owner, cadence_id) -> float:
    """The cadence's e-mails and step runs copied and its enrollments updated by SQL alone (rolled back)."""
    with owner.connect() as conn:
        cols = _email_columns(conn)
    return _timed_rollback(owner, [
        (_EMAIL_COPY.format(cols=cols, where="cadence_id = :cadence", values=cols.replace(  # as step 2's: no key clash
            "step_id", "(select id from app.cadence_steps where cadence_id = :cadence and step_number = 2)")),
         {"cadence": cadence_id}),
        ("insert into app.cadence_step_runs (id, organization_id, enrollment_id, step_id, status, email_id,"
         " executed_at) select gen_random_uuid(), r.organization_id, r.enrollment_id, s2.id, r.status, r.email_id,"
         " r.executed_at from app.cadence_step_runs r join app.cadence_steps s on s.id = r.step_id"
         " join app.cadence_steps s2 on s2.cadence_id = s.cadence_id and s2.step_number = 2"
         " where s.cadence_id = :cadence", {"cadence": cadence_id}),  # as step 2's runs: no key clash
        ("update app.cadence_enrollments set next_step_number = 2, next_run_at = now(), last_step_at = now(),"
         " updated_at = now() where cadence_id = :cadence", {"cadence": cadence_id}),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prospects", type=int, default=20_000, help="size of both parts unless given below")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--recipients", type=int, default=100_000, help="bulk job size (0 skips it)")
    parser.add_argument("--enrollments", type=int, default=None, help="due enrollments (0 skips them)")
    parser.add_argument("--processes", type=int, default=2,
                        help="processes materializing the bulk job's chunks at once (worker processes)")
    args = parser.parse_args()
    console = Console(width=160)
    rows = run(prospects=args.prospects, seed=args.seed, console=console, recipients=args.recipients,
               enrollments=args.enrollments, processes=args.processes)
    print_rows(rows, console, title="Outreach throughput")


if __name__ == "__main__":
    main()

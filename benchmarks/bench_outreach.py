"""Outreach throughput: rendered+queued emails/s for a bulk job, due cadence steps/s for enrollments.

    .venv/bin/python benchmarks/bench_outreach.py [--recipients 100000] [--enrollments 100000]

Uses DATABASE_URL when set (an empty database it may migrate), else an embedded PostgreSQL in a
temporary folder. Delivery itself (the backend) is not timed: it is bound by the provider.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from serving.cadences import service as cadences
from serving.cadences.schemas import CadenceIn
from serving.core.config import APP_ROLE, Settings
from serving.core.db import session_factory, tenant_session
from serving.core.migrate import upgrade
from serving.core.principal import Principal
from serving.emails import bulk
from serving.emails.schemas import BulkJobIn
from serving.organizations.service import create_organization


def _database(home: Path) -> tuple[str, tuple[str, int] | None]:
    """The owner URL, and (pgdata, pid) of the embedded server this run started (None for DATABASE_URL)."""
    import os

    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1), None
    from revorc.services import start_postgres

    url, pid, pgdata = start_postgres(home / "pg")
    return url, (pgdata, pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--enrollments", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="revorc-bench-outreach-") as folder:
        home = Path(folder)
        owner_url, embedded = _database(home)
        try:
            run(args, home, owner_url)
        finally:
            if embedded is not None:
                from revorc.services import stop_postgres

                stop_postgres(*embedded)


def run(args: argparse.Namespace, home: Path, owner_url: str) -> None:
    upgrade(owner_url)
    app_url = make_url(owner_url).set(username=APP_ROLE, password=None).render_as_string(hide_password=False)
    settings = Settings(
        REVORC_ENV="test",
        REVORC_HOME=str(home),
        DATABASE_URL=owner_url,
        APP_DATABASE_URL=app_url,
        JWT_SECRET="x" * 40,
    )
    owner = create_engine(owner_url)
    with Session(owner) as session, session.begin():
        org, team, admin = create_organization(
            db_session=session,
            name=f"bench-{uuid.uuid4().hex[:6]}",
            admin_email=f"bench-{uuid.uuid4().hex[:6]}@bench.example.com",
            admin_password="bench-password-123",
        )
        principal = Principal(organization_id=org.id, user_id=admin.id, role="admin", team_id=team.id)
    factory = session_factory(settings.api_database_url, 4)

    # -- bulk job: render + queue ------------------------------------------------------------
    recipients = [
        {"email": f"bulk{i}@bench.example.com", "variables": {"firstName": f"P{i}"}}
        for i in range(args.recipients)
    ]
    started = time.perf_counter()
    with tenant_session(factory, principal.organization_id) as session:
        job = bulk.create_job(
            db_session=session,
            principal=principal,
            data=BulkJobIn(
                name="bench",
                subject="Hello {{firstName}} from {{company}}",
                html="<p>Hi {{firstName}}, <a href='https://example.com/a'>read</a></p>",
                text="Hi {{firstName}}",
                recipients=recipients,
                rate_per_minute=100_000,
            ),
        )
    created = time.perf_counter() - started
    started = time.perf_counter()
    queued = bulk.materialize(
        factory=factory,
        settings=settings,
        organization_id=principal.organization_id,
        job_id=job.id,
        batch_size=1000,
    )
    elapsed = time.perf_counter() - started
    print(
        f"bulk job: {args.recipients} recipients stored in {created:.1f}s; "
        f"{queued} emails rendered+queued in {elapsed:.1f}s = {queued / elapsed:,.0f} emails/s"
    )

    # -- due cadence steps -------------------------------------------------------------------
    with tenant_session(factory, principal.organization_id) as session:
        cadence = cadences.create(
            db_session=session,
            principal=principal,
            data=CadenceIn.model_validate(
                {
                    "name": "bench",
                    "settings": {"businessHoursOnly": False},
                    "steps": [
                        {"type": "email", "subject": "Hi {{firstName}}", "content": "Quick question"},
                        {"type": "call", "delayDays": 2},
                    ],
                }
            ),
        )
    now = datetime.now(UTC)
    with owner.begin() as conn:
        conn.execute(
            text(
                "insert into app.prospects (id, organization_id, email, first_name, company, timezone, "
                "status) select gen_random_uuid(), :org, 'enr' || g || '@bench.example.com', 'P' || g, "
                "'Co' || (g % 500), "
                "(array['America/New_York','Europe/London','Asia/Tokyo'])[1 + g % 3], 'new' "
                "from generate_series(1, :n) g"
            ),
            {"org": principal.organization_id, "n": args.enrollments},
        )
        conn.execute(
            text(
                "insert into app.cadence_enrollments (id, organization_id, cadence_id, prospect_id, status, "
                "next_step_number, next_run_at, enrolled_at, created_at, updated_at) "
                "select gen_random_uuid(), :org, :cadence, p.id, 'active', 1, :due, :due, now(), now() "
                "from app.prospects p where p.organization_id = :org "
                "and p.email like 'enr%@bench.example.com'"
            ),
            {"org": principal.organization_id, "cadence": cadence.id, "due": now - timedelta(minutes=1)},
        )
    started = time.perf_counter()
    outcomes = cadences.run_due(
        factory=factory, settings=settings, organization_id=principal.organization_id, now=now, batch_size=500
    )
    elapsed = time.perf_counter() - started
    steps = sum(outcomes.values())
    print(
        f"cadences: {steps} due steps for {args.enrollments} enrollments in {elapsed:.1f}s = "
        f"{steps / elapsed:,.0f} steps/s ({dict(outcomes)})"
    )
    owner.dispose()


if __name__ == "__main__":
    main()

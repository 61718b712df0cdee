"""Benchmark (not a test): what the platform adds to a CRM read — `GET /api/v1/prospects/{id}` under 50
connections (wrk) — beside a bare FastAPI + psycopg pool app reading the same row from the same database, served
the same way, in the same run.

Ours keeps everything a client gets: JWT or API-key authentication, role and scope checks, the tenant bound for
row-level security, the rate limiter, the envelope. Rows: one API process each (the issue's comparison), and the
default number of API processes (`API_WORKERS`) against the bare app with as many. Each figure also gives the
server's CPU milliseconds per request over the same run: on a shared machine req/s follow everyone else's load,
CPU per request much less.

Usage: `.venv/bin/python -m benchmarks.bench_api [--prospects 10000] [--seconds 15] [--connections 50]`
(also `revorc bench api`). Needs Debian's `wrk`.
"""

from __future__ import annotations

import argparse
import os
import time

from rich.console import Console

from benchmarks.common import Row, print_rows, scratch_database
from benchmarks.wrk import Load, Served, cpu_seconds, require_wrk, run_wrk, uvicorn

JWT_SECRET = "bench-secret-that-is-long-enough-for-hs256-signing"
THROUGHPUT_TARGET = 0.80  # of the bare app's requests/s
P99_TARGET = 2.0  # × the bare app's p99


def bare_app():
    """The physical baseline: FastAPI, a psycopg async pool, one query by primary key, the row as JSON."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, HTTPException
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(os.environ["BENCH_DSN"], min_size=4, max_size=10, open=False)

    @asynccontextmanager
    async def lifespan(app):
        await pool.open()
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz():
        return {"ok": True}

    @app.get("/prospects/{prospect_id}")
    async def prospect(prospect_id: str):
        async with pool.connection() as conn:
            row = await (await conn.execute("select row_to_json(p) from app.prospects p where p.id = %s",
                                            (prospect_id,))).fetchone()
        if row is None:
            raise HTTPException(404)
        return row[0]

    return app


def _seed(home, database_url: str, prospects: int) -> tuple[dict[str, str], str, dict[str, str], dict[str, str]]:
    """Migrate; one organization with an admin, `prospects` prospects and an API key.
    Returns (the API's environment, a prospect id, JWT headers, API-key headers)."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from serving.api_keys import service as api_keys
    from serving.api_keys.schemas import ApiKeyCreate
    from serving.core.config import Settings
    from serving.core.db import engine_for
    from serving.core.migrate import upgrade
    from serving.core.principal import Principal
    from serving.core.security import create_access_token
    from serving.organizations.service import create_organization

    env = {"REVORC_ENV": "development", "REVORC_HOME": str(home), "DATABASE_URL": database_url,
           "JWT_SECRET": JWT_SECRET, "RATE_LIMIT_GENERAL": "100000000/hour"}
    settings = Settings(**env)
    upgrade(settings.owner_database_url)
    with Session(engine_for(settings.owner_database_url)) as session, session.begin():
        org, team, admin = create_organization(db_session=session, name="Bench API",
                                               admin_email=f"bench-api-{time.time_ns()}@example.com",
                                               admin_password="correct-horse-battery")
        session.execute(text(
            "insert into app.prospects (id, organization_id, team_id, owner_id, email, first_name, last_name, "
            "company, title, status) select gen_random_uuid(), :org, :team, :owner, 'p' || g || '@bench.example.com', "
            "'First' || g, 'Last' || g, 'Company ' || (g % 997), 'VP Sales', 'new' "
            "from generate_series(1, :n) g"), {"org": org.id, "team": team.id, "owner": admin.id, "n": prospects})
        prospect_id = str(session.execute(text(
            "select id from app.prospects where organization_id = :org order by email limit 1 offset :k"),
            {"org": org.id, "k": prospects // 2}).scalar_one())
        principal = Principal(organization_id=org.id, user_id=admin.id, role="admin", team_id=team.id)
        _key, secret = api_keys.create(db_session=session, principal=principal,
                                       data=ApiKeyCreate.model_validate({"name": "bench",
                                                                         "scopes": ["prospects:read"]}))
        token, _ = create_access_token(settings=settings, user_id=admin.id, organization_id=org.id,
                                       role=admin.role)
    return env, prospect_id, {"Authorization": f"Bearer {token}"}, {"X-API-Key": secret}


def _measure(server: Served, url: str, *, connections: int, seconds: float,
             headers: dict[str, str] | None = None) -> tuple[Load, float]:
    """wrk's figures, and the server's CPU milliseconds per request over the same run."""
    before = cpu_seconds(server.pid)
    load = run_wrk(url, connections=connections, seconds=seconds, headers=headers)
    return load, (cpu_seconds(server.pid) - before) * 1000 / max(load.requests, 1)


def _row(what: str, ours: tuple[Load, float], bare: tuple[Load, float]) -> Row:
    (ours, ours_cpu), (bare, bare_cpu) = ours, bare
    ratio = ours.requests_per_second / bare.requests_per_second if bare.requests_per_second else None
    met = (ours.errors == 0 and ratio is not None and ratio >= THROUGHPUT_TARGET
           and ours.p99_ms <= P99_TARGET * bare.p99_ms)
    # CPU per request: what each request costs the server, whatever else the shared machine is doing.
    return Row(what=what, measured=f"{ours.describe()}, CPU {ours_cpu:.2f} ms/req",
               baseline=f"bare FastAPI + psycopg pool: {bare.describe()}, CPU {bare_cpu:.2f} ms/req",
               target=f"≥ {THROUGHPUT_TARGET:.0%} of bare req/s, p99 ≤ {P99_TARGET:.0f}× bare "
                      f"(here ≤ {P99_TARGET * bare.p99_ms:.0f} ms)",
               ratio=ratio, met=met)


def run(*, prospects: int, seed: int, console: Console, seconds: float = 15.0, connections: int = 50,
        workers: int | None = None) -> list[Row]:
    from serving.core.config import Settings
    from serving.core.db import libpq_url

    require_wrk()
    del seed  # the data set is generated, not sampled
    rows: list[Row] = []
    with scratch_database("revorc-bench-api-") as (database_url, home):
        with console.status(f"Migrating and seeding {prospects:,} prospects…"):
            env, prospect_id, jwt, api_key = _seed(home, database_url, prospects)
        processes = workers or Settings(**env).api_workers
        bare_env = {"BENCH_DSN": libpq_url(database_url)}
        console.print(f"{os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}; {connections} connections, "
                      f"{seconds:.0f} s per measurement; default API processes: {processes}")
        for count in sorted({1, processes}):
            with uvicorn("benchmarks.bench_api:bare_app", env=bare_env, workers=count, factory=True) as base:
                url = f"{base}/prospects/{prospect_id}"
                run_wrk(url, connections=connections, seconds=2)  # warm the pool and the process(es)
                with console.status(f"bare app, {count} process(es)…"):
                    bare = _measure(base, url, connections=connections, seconds=seconds)
            with uvicorn("serving.main:create_app", env=env, workers=count, factory=True) as base:
                url = f"{base}/api/v1/prospects/{prospect_id}"
                run_wrk(url, connections=connections, seconds=2, headers=jwt)
                with console.status(f"ours (JWT), {count} process(es)…"):
                    ours = _measure(base, url, connections=connections, seconds=seconds, headers=jwt)
                rows.append(_row(f"GET /api/v1/prospects/{{id}}, JWT, {connections} connections, "
                                 f"{count} API process(es)", ours, bare))
                if count == 1:
                    run_wrk(url, connections=connections, seconds=2, headers=api_key)
                    with console.status("ours (API key), 1 process…"):
                        keyed = _measure(base, url, connections=connections, seconds=seconds, headers=api_key)
                    rows.append(_row(f"GET /api/v1/prospects/{{id}}, API key, {connections} connections, "
                                     "1 API process", keyed, bare))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prospects", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=15.0, help="per measurement")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", type=int, default=None, help="API processes for the second row "
                                                                  "(default: the API_WORKERS setting)")
    args = parser.parse_args()
    console = Console(width=160)
    rows = run(prospects=args.prospects, seed=args.seed, console=console, seconds=args.seconds,
               connections=args.connections, workers=args.workers)
    print_rows(rows, console, title=f"API overhead ({args.prospects:,} prospects)")


if __name__ == "__main__":
    main()

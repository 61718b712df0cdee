"""Benchmark (not a test): event posted → the prospect's intent and lead score updated in the API, under a steady
event load, through the real pieces: a scratch Postgres with the demo organization, one full materialization
(ingest → dbt → champion → scores), uvicorn, and `pipelines.defs.freshness.loop` (what `revorc up` runs: the
freshness sensor and its runs in one long-lived process; `--runner daemon`: the Dagster daemon, a process per run).

Load: `--rate` events/s for `--seconds`, alternating a page view of a high-intent page (Segment `/v1/page`) and an
e-mail reply (the SendGrid webhook), each for a different random open prospect. An event counts as visible when
`GET /api/v1/prospects/{id}` shows a lead score computed from other inputs than before the event (the score's
inputs hash; a run writes the intent before it). There is no baseline to run in the same run: before this
path the scores moved with the hourly schedule (up to an hour; the lead score's features only at midnight).

Usage: `.venv/bin/python -m benchmarks.bench_freshness [--prospects 1000] [--seconds 60] [--rate 0.5]
[--runner daemon|loop]`.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from benchmarks.common import Row, percentile, print_rows, scratch_database

TARGET_SECONDS = 60.0
JWT_SECRET = "bench-secret-that-is-long-enough-for-hs256-signing"
ROOT = Path(__file__).resolve().parents[1]
HIGH_INTENT_PAGES = ("/pricing", "/demo", "/contact-sales")


@dataclass
class Event:
    kind: str
    prospect_id: str
    posted: float
    before: tuple
    visible: float | None = None
    after: tuple = field(default_factory=tuple)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _state(body: dict) -> tuple:
    lead = (body.get("aiInsights") or {}).get("leadScore") or {}
    return body.get("intentScore"), body.get("priorityScore"), lead.get("inputsHash")


def _prepare(env: dict[str, str], *, prospects: int, seed: int, console: Console) -> None:
    """Migrate, load the demo organization and its landing files, and materialize everything once (the hourly
    and nightly jobs' work): the state a running platform is in when events start to arrive."""
    os.environ.update(env)
    import dagster as dg
    from sqlalchemy.orm import Session

    from pipelines.defs.dbt.project import prepare_manifest
    from revorc.data_runtime import dagster_home, initialize_instance
    from revorc.demo import seed_demo
    from serving.core.config import Settings
    from serving.core.db import engine_for
    from serving.core.migrate import upgrade

    settings = Settings()
    with console.status("Migrating, loading the demo organization and its landing files…"):
        upgrade(settings.owner_database_url)
        with Session(engine_for(settings.owner_database_url)) as session, session.begin():
            seed_demo(session, seed=seed, prospects=prospects)
        from pipelines.demo_data import demo_landing

        demo_landing(settings, prospects=prospects, seed=seed, landing_url=env["REVORC_LANDING_URL"])
    os.environ["DAGSTER_HOME"] = str(dagster_home(settings))
    initialize_instance()
    prepare_manifest()
    from pipelines.definitions import ASSETS, resources

    started = time.perf_counter()
    with console.status("Materializing everything once (ingest → dbt → champion → scores → reverse-ETL)…"):
        result = dg.materialize(ASSETS, resources=resources(), instance=dg.DagsterInstance.get(),
                                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
                                raise_on_error=False)
    failures = [e.message for e in result.all_events if e.is_failure]
    if failures:
        raise SystemExit(f"materialization failed: {failures[:3]}")
    console.print(f"full materialization: {time.perf_counter() - started:.0f} s")


def _targets(database_url: str, count: int, seed: int) -> tuple[str, list[tuple[str, str]]]:
    """(demo organization id, open prospects with a lead score and an e-mail address, shuffled)."""
    import psycopg

    from pipelines.ingest.ledger import psycopg_conninfo
    from revorc.demo import DEMO_SLUG

    with psycopg.connect(psycopg_conninfo(database_url)) as conn:
        org = str(conn.execute("select id from app.organizations where slug = %s", (DEMO_SLUG,)).fetchone()[0])
        rows = [(str(i), e) for i, e in conn.execute(
            "select id, email from app.prospects where organization_id = %s and priority_score is not null"
            " and email is not null order by id", (org,)).fetchall()]
    random.Random(seed).shuffle(rows)
    if len(rows) < count:
        raise SystemExit(f"only {len(rows)} scored prospects for {count} events: raise --prospects")
    return org, rows[:count]


def _admin_headers(env: dict[str, str], org: str) -> dict[str, str]:
    import psycopg

    from pipelines.ingest.ledger import psycopg_conninfo
    from serving.core.config import Settings
    from serving.core.security import create_access_token

    settings = Settings()
    with psycopg.connect(psycopg_conninfo(env["DATABASE_URL"])) as conn:
        user, role = conn.execute("select id, role from app.users where organization_id = %s and role = 'admin'"
                                  " order by created_at limit 1", (org,)).fetchone()
    token, _ = create_access_token(settings=settings, user_id=user, organization_id=uuid.UUID(org), role=role)
    return {"Authorization": f"Bearer {token}"}


def _post(client, kind: str, org: str, key: str, prospect_id: str, email: str) -> None:
    now = datetime.now(UTC)
    if kind == "page view":
        path = random.choice(HIGH_INTENT_PAGES)
        response = client.post("/v1/page", headers={"X-API-Key": key}, json={
            "type": "page", "messageId": str(uuid.uuid4()), "userId": email, "anonymousId": f"bench-{prospect_id}",
            "timestamp": now.isoformat().replace("+00:00", "Z"),
            "properties": {"path": path, "url": f"https://acme.example{path}"}})
    else:
        response = client.post("/api/v1/emails/webhook/sendgrid", json=[{
            "event": "reply", "sg_event_id": str(uuid.uuid4()), "sg_message_id": str(uuid.uuid4()),
            "email": email, "timestamp": int(now.timestamp()), "revorc_organization_id": org,
            "prospect_id": prospect_id}])
    if response.status_code >= 300:
        raise SystemExit(f"{kind} answered {response.status_code}: {response.text[:300]}")


def _load(base: str, org: str, headers: dict[str, str], targets: list[tuple[str, str]], *, rate: float,
          seconds: float, grace: float, console: Console) -> list[Event]:
    import httpx

    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        response = client.post("/api/v1/api-keys", json={"name": "bench site", "scopes": ["events:write"]})
        body = response.json().get("data", response.json())
        key = next(v for v in body.values() if isinstance(v, str) and v.startswith("sk_live_") and len(v) > 20)
    events: list[Event] = []
    lock = threading.Lock()
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            while not stop.is_set():
                with lock:
                    pending = [e for e in events if e.visible is None]
                for event in pending:
                    try:
                        state = _state(client.get(f"/api/v1/prospects/{event.prospect_id}").json())
                    except httpx.HTTPError:
                        continue  # the next round asks again
                    # the lead score is written after the intent in the same run: its new inputs mean both are in
                    if state[2] != event.before[2]:
                        event.visible, event.after = time.monotonic(), state
                time.sleep(0.5)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    total = int(rate * seconds)
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client, \
            Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"{total} events at {rate}/s", total=total)
        started = time.monotonic()
        for n, (prospect_id, email) in enumerate(targets[:total]):
            time.sleep(max(0.0, started + n / rate - time.monotonic()))
            before = _state(client.get(f"/api/v1/prospects/{prospect_id}").json())
            kind = "page view" if n % 2 == 0 else "reply"
            posted = time.monotonic()
            _post(client, kind, org, key, prospect_id, email)
            with lock:
                events.append(Event(kind, prospect_id, posted, before))
            progress.advance(task)
        wait = progress.add_task("waiting for the last events to show", total=len(events))
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            with lock:
                done = sum(e.visible is not None for e in events)
            progress.update(wait, completed=done)
            if done == len(events):
                break
            time.sleep(1)
    stop.set()
    poller.join()
    return events


def _wait_for_sensor(instance_home: Path, runner_log: Path, timeout: float = 180.0) -> None:
    import dagster as dg

    os.environ["DAGSTER_HOME"] = str(instance_home)
    instance = dg.DagsterInstance.get()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "first tick" in runner_log.read_text(errors="replace"):
            return
        for state in instance.all_instigator_state():
            if state.name == "freshness_sensor" and state.instigator_data and state.instigator_data.cursor:
                return
        time.sleep(1)
    raise SystemExit(f"the daemon did not tick freshness_sensor within {timeout:.0f} s")


def _runs(instance_home: Path, since: float) -> list[dict[str, float]]:
    """Per freshness run: queue wait, launch (process start + code location load) and the steps' seconds."""
    import dagster as dg

    os.environ["DAGSTER_HOME"] = str(instance_home)
    instance = dg.DagsterInstance.get()
    out = []
    for record in instance.get_run_records(dg.RunsFilter(job_name="freshness_micro_batch")):
        if record.create_timestamp.timestamp() < since or not record.start_time or not record.end_time:
            continue
        steps: dict[str, float] = {}
        for entry in instance.all_logs(record.dagster_run.run_id, of_type={dg.DagsterEventType.STEP_START,
                                                                          dg.DagsterEventType.STEP_SUCCESS}):
            key = entry.step_key
            if entry.dagster_event.event_type == dg.DagsterEventType.STEP_START:
                steps[key] = -entry.timestamp
            elif key in steps:
                steps[key] += entry.timestamp
        logs = instance.all_logs(record.dagster_run.run_id, of_type={dg.DagsterEventType.STEP_START})
        first_step = min((e.timestamp for e in logs), default=record.start_time)
        out.append({"queued": record.start_time - record.create_timestamp.timestamp(),
                    "launch": first_step - record.start_time,
                    "dbt": steps.get("revorc_dbt_models", 0.0),
                    "rescore": steps.get("freshness__prospect_scores", 0.0),
                    "total": record.end_time - record.create_timestamp.timestamp()})
    return out


@contextmanager
def _typesense(home: Path) -> Iterator[tuple[str, str]]:
    """The whole graph includes the search index: a real Typesense of the run's own, as `revorc up` has; its
    (URL, admin key)."""
    from revorc.services import ephemeral_port, start_typesense, stop_pid

    (home / "typesense").mkdir()
    url, key, pid = start_typesense(home / "typesense", port=ephemeral_port())
    try:
        yield url, key
    finally:
        stop_pid(pid)


def run(*, prospects: int, seed: int, console: Console, seconds: float = 60.0, rate: float = 0.5,
        grace: float = 180.0, runner: str = "loop") -> list[Row]:
    import httpx

    prospects = min(prospects, 20_000)  # the demo CRM's size limit (`revorc seed-demo`)
    with scratch_database("revorc-bench-freshness-") as (database_url, home), _typesense(home) as (ts_url, ts_key):
        env = {"REVORC_ENV": "development", "REVORC_HOME": str(home), "DATABASE_URL": database_url,
               "JWT_SECRET": JWT_SECRET, "RATE_LIMIT_GENERAL": "10000000/hour", "OMP_NUM_THREADS": "1",
               "REVORC_LANDING_URL": str(home / "landing"), "DAGSTER_HOME": str(home / "dagster"),
               "TYPESENSE_URL": ts_url, "TYPESENSE_API_KEY": ts_key}
        _prepare(env, prospects=prospects, seed=seed, console=console)
        org, targets = _targets(database_url, int(rate * seconds), seed)
        port = _free_port()
        logs = home / "logs"
        logs.mkdir(exist_ok=True)
        # The runners see an empty landing zone: everything landed is loaded, so landing_files_sensor's first tick
        # does not start an hourly run beside the micro-batches (its own figures are bench_ingest's and bench_dbt's).
        (home / "landed").mkdir()
        child_env = {**os.environ, **env, "REVORC_LANDING_URL": str(home / "landed"),
                     "REVORC_FRESHNESS_RUNNER": runner}
        api = subprocess.Popen([sys.executable, "-m", "uvicorn", "serving.main:create_app", "--factory", "--host",
                                "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                               env=child_env, start_new_session=True,
                               stdout=(logs / "api.log").open("ab"), stderr=subprocess.STDOUT)
        if runner == "daemon":
            args = [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")]
        else:  # the sensor and its runs in one long-lived process
            args = [sys.executable, "-m", "pipelines.defs.freshness.loop"]
        runner_log = logs / f"{runner}.log"
        daemon = subprocess.Popen(args, cwd=ROOT, env=child_env, start_new_session=True,
                                  stdout=runner_log.open("ab"), stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.3)
            with console.status(f"Waiting for the first freshness_sensor tick ({runner})…"):
                _wait_for_sensor(home / "dagster", runner_log)  # it sets the cursor; events before it are the batch's
            started = time.time()
            events = _load(base, org, _admin_headers(env, org), targets, rate=rate, seconds=seconds, grace=grace,
                           console=console)
            runs = _runs(home / "dagster", started)
        finally:
            for process in (daemon, api):
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
    latencies = [e.visible - e.posted for e in events if e.visible is not None]
    missing = len(events) - len(latencies)
    table = Table(title="Freshness runs (seconds)")
    for column in ("runs", "queued p50", "launch p50", "dbt p50", "rescore p50", "run total p50", "run total max"):
        table.add_column(column, justify="right")
    if runs:
        table.add_row(str(len(runs)), *(f"{percentile([r[k] for r in runs], 50):.1f}"
                                        for k in ("queued", "launch", "dbt", "rescore", "total")),
                      f"{max(r['total'] for r in runs):.1f}")
    console.print(table)
    intent_moved = sum(e.visible is not None and e.after[0] != e.before[0] for e in events)
    console.print(f"{len(events)} events, {missing} not visible within {grace:.0f} s after the load; intent score "
                  f"moved for {intent_moved}, lead score recomputed for {len(latencies)}")
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    met = bool(latencies) and missing == 0 and p95 <= TARGET_SECONDS
    return [Row(what=f"event → intent + lead score in the API ({rate:g} events/s, {prospects:,} prospects, "
                     f"{runner})",
                measured=f"p50 {p50:.1f} s, p95 {p95:.1f} s ({missing} of {len(events)} not visible)",
                baseline="hourly schedule (up to 3,600 s)", target=f"p95 ≤ {TARGET_SECONDS:.0f} s",
                ratio=p95 / TARGET_SECONDS if latencies else None, met=met)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prospects", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long events are posted")
    parser.add_argument("--rate", type=float, default=0.5, help="events per second (page views and replies)")
    parser.add_argument("--grace", type=float, default=180.0, help="how long to wait for the last events")
    parser.add_argument("--runner", choices=("daemon", "loop"), default="loop",
                        help="dagster-daemon (a process per run) or pipelines.defs.freshness.loop (runs in-process)")
    args = parser.parse_args()
    console = Console(width=160)
    rows = run(prospects=args.prospects, seed=args.seed, console=console, seconds=args.seconds, rate=args.rate,
               grace=args.grace, runner=args.runner)
    print_rows(rows, console, title="Freshness")


if __name__ == "__main__":
    main()

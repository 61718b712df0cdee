"""Benchmark (not a test): lead scoring on the platform path.

1. Training time for 100k and 1M rows of demo features (both candidates, calibration, validation).
2. Batch scoring rows/s: the library's `score_frame`, and the `prospect_lead_scores` path
   (`serving.scoring.blend.score_prospects`: score + explanations + a team rule blend) — vectorised.
3. Real-time `POST /api/v1/scoring/score` latency p50/p99 under concurrent load: a seeded embedded
   Postgres (or DATABASE_URL), one organization with a champion, uvicorn on localhost, httpx from threads.
   Bounded by request count and wall time.

Usage: `.venv/bin/python -m benchmarks.bench_scoring [--max-rows 1000000] [--requests 2000] [--concurrency 8]
[--seconds 60] [--workers 1]`. Everything lives in a temporary REVORC_HOME that is removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_limits

from models.lead_scoring.predict import score_frame
from models.lead_scoring.rules import RuleSet
from models.lead_scoring.synthetic import make_feature_frame
from models.lead_scoring.train import TrainingResult, train
from serving.scoring.blend import score_prospects

SNAPSHOTS = 5
JWT_SECRET = "bench-secret-that-is-long-enough-for-hs256-signing"
RULES = RuleSet.model_validate({
    "name": "Enterprise fit", "mode": "blend", "ml_weight": 0.6, "base_points": 10,
    "rules": [{"name": "Executive title", "points": 30,
               "when": [{"op": "contains", "column": "title", "values": ["vp", "chief"]}]},
              {"name": "Replied and hot", "points": 40,
               "when": [{"op": "gte", "column": "emails_replied", "value": 1},
                        {"op": "in", "column": "intent_tier", "values": ["hot", "burning"]}]}]})
PAYLOAD = {"features": {"titleSeniority": "vp", "department": "sales", "industry": "software",
                        "employeeBand": "201-1000", "revenueBand": "10M-50M", "emailsSent": 4, "emailsReplied": 1,
                        "emailsOpened": 3, "emailsClicked": 1, "meetingsHeld": 0, "webSessions": 5,
                        "daysSinceLastEngagement": 3, "intentScore": 64, "intentTier": "hot",
                        "intentTrend": "increasing", "intentSpike": True}, "title": "VP of Sales"}


def bench_training(max_rows: int, seed: int, console: Console) -> TrainingResult:
    table = Table(title="Training (both candidates + calibration + validation)")
    for column in ("rows", "train s", "LR fit s", "HGB fit s", "best", "validation ROC-AUC"):
        table.add_column(column, justify="right")
    result = None
    for rows in (n for n in (100_000, 1_000_000) if n <= max_rows):
        frame = make_feature_frame(n_prospects=rows // SNAPSHOTS, n_snapshots=SNAPSHOTS, seed=seed)
        started = time.perf_counter()
        trained = train(frame, seed=seed)
        elapsed = time.perf_counter() - started
        card = trained.best.card
        table.add_row(f"{rows:,}", f"{elapsed:.1f}", *(f"{card.candidates[f]['fit_seconds']:.1f}"
                                                       for f in card.candidates),
                      card.family, f"{card.metrics['roc_auc']:.3f}")
        result = result or trained  # the 100k model serves the real-time benchmark (smaller artifact)
    console.print(table)
    if result is None:
        raise SystemExit("--max-rows must be at least 100000")
    return result


def bench_batch(result: TrainingResult, rows: int, seed: int, console: Console) -> None:
    table = Table(title="Batch scoring (rows/s, one OpenMP thread)")
    for column in ("model", "what", "rows", "seconds", "rows/s"):
        table.add_column(column, justify="right")
    batch = make_feature_frame(n_prospects=max(1, rows // SNAPSHOTS), n_snapshots=SNAPSHOTS, seed=seed + 1)
    batch["team_id"] = np.where(np.arange(len(batch)) % 2 == 0, "team-a", "team-b")
    for family, model in result.candidates.items():
        started = time.perf_counter()
        scored = score_frame(model=model, frame=batch)
        seconds = time.perf_counter() - started
        table.add_row(family, "score + tier + inputs hash", f"{len(scored):,}", f"{seconds:.2f}",
                      f"{len(scored) / seconds:,.0f}")
        sample = batch.iloc[:50_000]
        started = time.perf_counter()
        blended = score_prospects(model=model, frame=sample, rule_sets={"team-a": RULES})
        seconds = time.perf_counter() - started
        table.add_row(family, "platform: + explanations + team rules (half the rows)", f"{len(blended):,}",
                      f"{seconds:.2f}", f"{len(blended) / seconds:,.0f}")
    console.print(table)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seed_api(home: Path, database_url: str, model) -> tuple[dict[str, str], dict[str, str]]:
    """Migrate, create an organization with an admin, register the champion; returns (env, auth headers)."""
    from sqlalchemy.orm import Session

    from serving.core.config import Settings
    from serving.core.db import engine_for
    from serving.core.migrate import upgrade
    from serving.core.security import create_access_token
    from serving.organizations.service import create_organization
    from serving.scoring.registry_store import organization_registry

    env = {"REVORC_ENV": "development", "REVORC_HOME": str(home), "DATABASE_URL": database_url,
           "JWT_SECRET": JWT_SECRET, "RATE_LIMIT_GENERAL": "10000000/hour", "OMP_NUM_THREADS": "1"}
    settings = Settings(**{k: v for k, v in env.items() if k != "OMP_NUM_THREADS"})
    upgrade(settings.owner_database_url)
    with Session(engine_for(settings.owner_database_url)) as session, session.begin():
        org, _team, admin = create_organization(db_session=session, name=f"Bench {int(time.time())}",
                                               admin_email=f"bench-{time.time_ns()}@example.com",
                                               admin_password="correct-horse-battery")
        organization_registry(session, org.id, home=settings.home).register(model)
        token, _ = create_access_token(settings=settings, user_id=admin.id, organization_id=org.id, role=admin.role)
    return env, {"Authorization": f"Bearer {token}"}


def bench_realtime(result: TrainingResult, *, requests: int, concurrency: int, seconds: float, workers: int,
                   console: Console) -> None:
    import httpx

    from revorc.services import start_postgres, stop_postgres

    with tempfile.TemporaryDirectory(prefix="revorc-bench-scoring-") as folder:
        home = Path(folder)
        pg = None
        database_url = os.environ.get("DATABASE_URL")
        if not database_url:
            database_url, pid, pgdata = start_postgres(home / "pg")
            pg = (pgdata, pid)
        api = None
        try:
            env, headers = _seed_api(home, database_url, result.best)
            port = _free_port()
            api = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "serving.main:create_app", "--factory", "--host", "127.0.0.1",
                 "--port", str(port), "--workers", str(workers), "--log-level", "warning"],
                env={**os.environ, **env}, start_new_session=True)
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.3)
            with httpx.Client(base_url=base, headers=headers, timeout=30) as warm:
                warm_up = warm.post("/api/v1/scoring/score", json=PAYLOAD)  # loads and caches the champion
                if warm_up.status_code != 200:
                    raise SystemExit(f"/scoring/score answered {warm_up.status_code}: {warm_up.text[:300]}")
            latencies: list[float] = []
            errors = 0
            lock = threading.Lock()
            stop_at = time.monotonic() + seconds
            remaining = iter(range(requests))

            def worker() -> None:
                nonlocal errors
                with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                    while time.monotonic() < stop_at:
                        with lock:
                            if next(remaining, None) is None:
                                return
                        started = time.perf_counter()
                        response = client.post("/api/v1/scoring/score", json=PAYLOAD)
                        elapsed = time.perf_counter() - started
                        with lock:
                            latencies.append(elapsed)
                            errors += response.status_code != 200

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                for future in [pool.submit(worker) for _ in range(concurrency)]:
                    future.result()
            wall = time.perf_counter() - started
        finally:
            if api is not None:
                api.terminate()
                try:
                    api.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    api.kill()
            if pg is not None:
                stop_postgres(*pg)
    ms = sorted(1000 * x for x in latencies)
    table = Table(title=f"POST /api/v1/scoring/score ({result.best.family} champion, explanations on, "
                        f"{workers} uvicorn worker(s), {concurrency} concurrent clients)")
    for column in ("requests", "errors", "wall s", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="right")
    table.add_row(f"{len(ms):,}", str(errors), f"{wall:.1f}", f"{len(ms) / wall:,.0f}",
                  f"{statistics.median(ms):.1f}", f"{np.percentile(ms, 90):.1f}", f"{np.percentile(ms, 99):.1f}",
                  f"{ms[-1]:.1f}")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-rows", type=int, default=1_000_000)
    parser.add_argument("--batch-rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-training", action="store_true", help="train on 100k rows only, untimed")
    args = parser.parse_args()
    console = Console(width=140)
    console.print(f"{os.cpu_count()} CPUs; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    with threadpool_limits(limits=1, user_api="openmp"):
        if args.skip_training:
            result = train(make_feature_frame(n_prospects=100_000 // SNAPSHOTS, n_snapshots=SNAPSHOTS,
                                              seed=args.seed), seed=args.seed)
        else:
            result = bench_training(args.max_rows, args.seed, console)
        bench_batch(result, args.batch_rows, args.seed, console)
    bench_realtime(result, requests=args.requests, concurrency=args.concurrency, seconds=args.seconds,
                   workers=args.workers, console=console)


if __name__ == "__main__":
    main()

"""Benchmark (not a test): real-time lead scoring, `POST /api/v1/scoring/score` with explanations under
concurrent clients, beside the champion's own `predict_proba` on one row measured in the same run.

The API side is the platform path end to end: a scratch Postgres (or DATABASE_URL), one organization per
model family with that family as champion, uvicorn on localhost and wrk (or httpx threads). The baseline
is the calibrated estimator's `predict_proba` on one prepared row, in this process, one call at a time.

The model side alone: the scoring service's model call (`serving.scoring.realtime.score_row`, explained) from
`--concurrency` threads in this process, with the compiled model (`models/lead_scoring/compiled.py`) and
with the frame path it replaced (pandas + scikit-learn, the compiled model switched off for that run), p50/p99
wall and CPU per call, beside the same baseline. With `--training` / `--batch` the training-time and
batch-scoring tables are printed as well.

Usage: `.venv/bin/python -m benchmarks.bench_scoring [--prospects 10000] [--requests 2000] [--concurrency 8]
[--seconds 60] [--workers 1] [--family hist_gradient_boosting] [--training] [--batch] [--no-api]`.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from threadpoolctl import threadpool_limits

from benchmarks.common import Row, percentile, print_rows, scratch_database
from benchmarks.wrk import cpu_seconds, run_wrk, uvicorn
from models.lead_scoring.features import prepare_frame
from models.lead_scoring.predict import score_frame
from models.lead_scoring.rules import RuleSet
from models.lead_scoring.synthetic import make_feature_frame
from models.lead_scoring.train import FAMILIES, LeadScoringModel, TrainingResult, train
from serving.scoring.blend import score_prospects

SNAPSHOTS = 5
TARGET_P99_MS = 25.0
BASELINE_CALLS = 500
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
# The payload above as a feature row (snake case), for the in-process baseline.
ROW = {"title_seniority": "vp", "department": "sales", "industry": "software", "employee_band": "201-1000",
       "revenue_band": "10M-50M", "emails_sent": 4, "emails_replied": 1, "emails_opened": 3, "emails_clicked": 1,
       "meetings_held": 0, "web_sessions": 5, "days_since_last_engagement": 3, "intent_score": 64,
       "intent_tier": "hot", "intent_trend": "increasing", "intent_spike": 1.0}


@dataclass(frozen=True)
class Latency:
    requests: int
    errors: int
    wall: float
    p50: float  # ms
    p99: float  # ms
    cpu_ms: float | None = None  # the API processes' CPU per request (steadier under load than req/s)

    @property
    def per_second(self) -> float:
        return self.requests / self.wall if self.wall else 0.0


def bench_training(prospects: int, seed: int, console: Console) -> TrainingResult:
    table = Table(title="Training (both candidates + calibration + validation)")
    for column in ("rows", "train s", *(f"{f} fit s" for f in FAMILIES), "best", "validation ROC-AUC"):
        table.add_column(column, justify="right")
    frame = make_feature_frame(n_prospects=prospects, n_snapshots=SNAPSHOTS, seed=seed)
    started = time.perf_counter()
    trained = train(frame, seed=seed)
    elapsed = time.perf_counter() - started
    card = trained.best.card
    table.add_row(f"{len(frame):,}", f"{elapsed:.1f}",
                  *(f"{card.candidates[f]['fit_seconds']:.1f}" for f in FAMILIES),
                  card.family, f"{card.metrics['roc_auc']:.3f}")
    console.print(table)
    return trained


def bench_batch(result: TrainingResult, prospects: int, seed: int, console: Console) -> None:
    table = Table(title="Batch scoring (rows/s, one OpenMP thread)")
    for column in ("model", "what", "rows", "seconds", "rows/s"):
        table.add_column(column, justify="right")
    batch = make_feature_frame(n_prospects=prospects, n_snapshots=SNAPSHOTS, seed=seed + 1)
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


def bench_predict_proba(model: LeadScoringModel, *, calls: int = BASELINE_CALLS) -> Latency:
    """The physical floor: the calibrated estimator on one already-prepared row, in process."""
    import pandas as pd

    X = prepare_frame(pd.DataFrame([ROW]), spec=model.spec)[model.spec.columns]
    model.estimator.predict_proba(X)  # warm
    latencies = []
    started = time.perf_counter()
    for _ in range(calls):
        t = time.perf_counter()
        model.estimator.predict_proba(X)
        latencies.append(1000 * (time.perf_counter() - t))
    wall = time.perf_counter() - started
    return Latency(calls, 0, wall, percentile(latencies, 50), percentile(latencies, 99))


@dataclass(frozen=True)
class InProcess:
    latency: Latency
    cpu_ms: float  # process CPU per call (all threads)


def bench_in_process(model: LeadScoringModel, *, requests: int, concurrency: int, compiled: bool) -> InProcess:
    """`realtime.score_row` (explained, no team rules: the service's model call) from `concurrency` threads.
    With `compiled=False` the model's compiled form is switched off for the run (the frame path)."""
    from models.lead_scoring import compiled as compiled_models
    from serving.scoring import realtime

    fast = compiled_models.compiled(model)
    if not compiled:
        compiled_models._compiled[model.estimator] = None  # the cache answers "not compilable": frame path
    try:
        row = {**ROW, "technology_count": None, "title": "VP of Sales"}
        realtime.score_row(model=model, row=row, team_id=None, rule_set=None, explain=True)  # warm
        latencies: list[float] = []
        lock = threading.Lock()
        remaining = iter(range(requests))

        def client() -> None:
            while True:
                with lock:
                    if next(remaining, None) is None:
                        return
                t = time.perf_counter()
                realtime.score_row(model=model, row=row, team_id=None, rule_set=None, explain=True)
                elapsed = 1000 * (time.perf_counter() - t)
                with lock:
                    latencies.append(elapsed)

        cpu, started = time.process_time(), time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for future in [pool.submit(client) for _ in range(concurrency)]:
                future.result()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        compiled_models._compiled[model.estimator] = fast
    return InProcess(Latency(len(latencies), 0, wall, percentile(latencies, 50), percentile(latencies, 99)),
                     1000 * cpu / max(1, len(latencies)))


def _seed_api(home: Path, database_url: str, models: dict[str, LeadScoringModel]
              ) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Migrate; per family an organization with an admin and that family's model as champion.
    Returns (the API's environment, auth headers per family)."""
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
    headers = {}
    with Session(engine_for(settings.owner_database_url)) as session, session.begin():
        for family, model in models.items():
            org, _team, admin = create_organization(db_session=session, name=f"Bench {family}",
                                                   admin_email=f"bench-{family}-{time.time_ns()}@example.com",
                                                   admin_password="correct-horse-battery")
            organization_registry(session, org.id, home=settings.home).register(model)
            token, _ = create_access_token(settings=settings, user_id=admin.id, organization_id=org.id,
                                           role=admin.role)
            headers[family] = {"Authorization": f"Bearer {token}"}
    return env, headers


def _load(base: str, headers: dict[str, str], *, requests: int, concurrency: int, seconds: float,
          progress: Progress, label: str) -> Latency:
    import httpx

    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    remaining = iter(range(requests))
    task = progress.add_task(label, total=requests)

    def client_loop() -> None:
        nonlocal errors
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            while time.monotonic() < stop_at:
                with lock:
                    if next(remaining, None) is None:
                        return
                started = time.perf_counter()
                response = client.post("/api/v1/scoring/score", json=PAYLOAD)
                elapsed = 1000 * (time.perf_counter() - started)
                with lock:
                    latencies.append(elapsed)
                    errors += response.status_code != 200
                progress.advance(task)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(client_loop) for _ in range(concurrency)]:
            future.result()
    wall = time.perf_counter() - started
    return Latency(len(latencies), errors, wall, percentile(latencies, 50), percentile(latencies, 99))


def bench_realtime(models: dict[str, LeadScoringModel], *, requests: int, concurrency: int, seconds: float,
                   workers: int, console: Console, load_client: str = "wrk") -> dict[str, Latency]:
    import httpx

    out: dict[str, Latency] = {}
    with scratch_database("revorc-bench-scoring-") as (database_url, home):
        env, headers = _seed_api(home, database_url, models)
        with (uvicorn("serving.main:create_app", env=env, workers=workers, factory=True) as base,
              Progress(console=console, transient=True) as progress):
            for family, family_headers in headers.items():
                with httpx.Client(base_url=base, headers=family_headers, timeout=30) as warm:
                    for _ in range(3 * workers):  # loads and caches the champion in every process
                        warm_up = warm.post("/api/v1/scoring/score", json=PAYLOAD)
                        if warm_up.status_code != 200:
                            raise SystemExit(f"/scoring/score answered {warm_up.status_code}: "
                                             f"{warm_up.text[:300]}")
                if load_client == "wrk":
                    # wrk is C: the clients do not take the server's cores and GIL turns as Python threads do
                    with console.status(f"POST /scoring/score ({family}, {concurrency} clients, wrk)…"):
                        cpu_before = cpu_seconds(base.pid)
                        load = run_wrk(f"{base}/api/v1/scoring/score", connections=concurrency,
                                       threads=min(2, concurrency), seconds=min(seconds, 30),
                                       headers={**family_headers, "Content-Type": "application/json"},
                                       method="POST", body=json.dumps(PAYLOAD))
                    cpu_ms = (cpu_seconds(base.pid) - cpu_before) * 1000 / max(load.requests, 1)
                    out[family] = Latency(load.requests, load.errors, min(seconds, 30), load.p50_ms,
                                          load.p99_ms, cpu_ms)
                else:
                    out[family] = _load(base, family_headers, requests=requests, concurrency=concurrency,
                                        seconds=seconds, progress=progress,
                                        label=f"POST /scoring/score ({family}, {concurrency} clients)")
    return out


def run(*, prospects: int, seed: int, console: Console, requests: int = 2000, concurrency: int = 8,
        seconds: float = 60.0, workers: int = 1, families: tuple[str, ...] = FAMILIES, training: bool = False,
        batch: bool = False, load_client: str = "wrk", api: bool = True, in_process_requests: int = 800) -> list[Row]:
    """Rows: per model family, the service's model call in process (compiled and frame path) and the API's
    p50/p99 under `concurrency` clients, each vs `predict_proba` on one row.

    The model is trained on `prospects` × 5 snapshots of synthetic features.
    """
    console.print(f"{os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}; "
                  f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    with threadpool_limits(limits=1, user_api="openmp"):
        if training:
            result = bench_training(prospects, seed, console)
        else:
            with console.status(f"training on {prospects * SNAPSHOTS:,} rows"):
                result = train(make_feature_frame(n_prospects=prospects, n_snapshots=SNAPSHOTS, seed=seed),
                               seed=seed)
        if batch:
            bench_batch(result, prospects, seed, console)
        models = {family: result.candidates[family] for family in families}
        baselines = {family: bench_predict_proba(model) for family, model in models.items()}
        in_process: dict[tuple[str, bool], InProcess] = {}
        for family, model in models.items():
            for fast in (True, False):
                with console.status(f"score_row in process ({family}, {concurrency} threads, "
                                    f"{'compiled' if fast else 'frame path'})…"):
                    in_process[family, fast] = bench_in_process(model, requests=in_process_requests,
                                                                concurrency=concurrency, compiled=fast)
    rows = []
    for family in models:
        floor = baselines[family]
        for fast in (True, False):
            measured_in = in_process[family, fast]
            own = measured_in.latency
            rows.append(Row(
                what=f"scoring service model call in process (realtime.score_row, explained), {concurrency} "
                     f"threads, {family}, {'compiled model' if fast else 'frame path (before)'}",
                measured=f"{own.per_second:,.0f} calls/s, p50 {own.p50:.1f} ms, p99 {own.p99:.1f} ms, "
                         f"CPU {measured_in.cpu_ms:.2f} ms/call ({own.requests:,} calls)",
                baseline=f"predict_proba, one row, in process: p50 {floor.p50:.1f} ms, p99 {floor.p99:.1f} ms",
                target=f"p99 ≤ {TARGET_P99_MS:.0f} ms",
                ratio=own.p99 / floor.p99 if floor.p99 else None,
                met=own.p99 <= TARGET_P99_MS,
            ))
    if not api:
        return rows
    measured = bench_realtime(models, requests=requests, concurrency=concurrency, seconds=seconds,
                              workers=workers, console=console, load_client=load_client)
    for family in models:
        api, floor = measured[family], baselines[family]
        errors = f", {api.errors} errors" if api.errors else ""
        cpu = f", server CPU {api.cpu_ms:.2f} ms/req" if api.cpu_ms is not None else ""
        rows.append(Row(
            what=f"POST /scoring/score, explained, {concurrency} clients, {workers} API process(es), {family}",
            measured=f"{api.per_second:,.0f} req/s, p50 {api.p50:.1f} ms, p99 {api.p99:.1f} ms "
                     f"({api.requests:,} requests{errors}){cpu}",
            baseline=f"predict_proba, one row, in process: p50 {floor.p50:.1f} ms, p99 {floor.p99:.1f} ms",
            target=f"p99 ≤ {TARGET_P99_MS:.0f} ms",
            ratio=api.p99 / floor.p99 if floor.p99 else None,
            met=api.errors == 0 and api.p99 <= TARGET_P99_MS,
        ))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prospects", type=int, default=10_000, help="training prospects (× 5 snapshots)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--requests", type=int, default=2000, help="per model family")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0, help="wall-time bound per model family")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--client", choices=("wrk", "httpx"), default="wrk",
                        help="load generator: wrk (C, default) or httpx threads in this process")
    parser.add_argument("--family", choices=FAMILIES, action="append", help="default: both")
    parser.add_argument("--training", action="store_true", help="print the training table")
    parser.add_argument("--batch", action="store_true", help="print the batch-scoring table")
    parser.add_argument("--no-api", action="store_true", help="only the in-process rows (no Postgres, no HTTP)")
    parser.add_argument("--in-process-requests", type=int, default=800, help="per family and path")
    args = parser.parse_args()
    console = Console(width=160)
    rows = run(prospects=args.prospects, seed=args.seed, console=console, requests=args.requests,
               concurrency=args.concurrency, seconds=args.seconds, workers=args.workers,
               families=tuple(args.family or FAMILIES), training=args.training, batch=args.batch,
               load_client=args.client, api=not args.no_api, in_process_requests=args.in_process_requests)
    print_rows(rows, console, title=f"Real-time scoring ({args.prospects:,} training prospects)")


if __name__ == "__main__":
    main()

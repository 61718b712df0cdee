"""Benchmark (not a test): lead-scoring training time at 100k and 1M rows; scoring and explanation rows/s.

Pure library, no services needed. Rows come from `make_feature_frame` (5 snapshots per prospect).
Usage: `python -m benchmarks.bench_lead_scoring [--max-rows 1000000] [--seed 7]`.
The API's `/scoring/score` latency under concurrent load belongs to the serving benchmark; the
single-row library latency printed here is its lower bound.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from models.lead_scoring.explain import explain
from models.lead_scoring.predict import score_frame
from models.lead_scoring.synthetic import make_feature_frame
from models.lead_scoring.train import train

SNAPSHOTS = 5


def run(*, max_rows: int = 1_000_000, seed: int = 7, console: Console | None = None) -> None:
    console = console or Console(width=140)
    console.print(f"{os.cpu_count()} CPUs; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    training = Table(title="Training (both candidates, calibration and validation included)")
    for column in ("rows", "generate s", "train s", "LR fit s", "HGB fit s", "best", "validation ROC-AUC"):
        training.add_column(column, justify="right")
    result = None
    for rows in (n for n in (100_000, 1_000_000) if n <= max_rows):
        started = time.perf_counter()
        frame = make_feature_frame(n_prospects=rows // SNAPSHOTS, n_snapshots=SNAPSHOTS, seed=seed)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        result = train(frame, seed=seed)
        elapsed = time.perf_counter() - started
        card = result.best.card
        training.add_row(f"{rows:,}", f"{generated:.1f}", f"{elapsed:.1f}",
                         *(f"{card.candidates[f]['fit_seconds']:.1f}" for f in card.candidates),
                         card.family, f"{card.metrics['roc_auc']:.3f}")
    if result is None:
        raise SystemExit("--max-rows must be at least 100000")
    console.print(training)

    scoring = Table(title="Scoring (vectorised; rows/s)")
    for column in ("model", "what", "rows", "seconds", "rows/s"):
        scoring.add_column(column, justify="right")
    batch = make_feature_frame(n_prospects=max_rows // SNAPSHOTS, n_snapshots=SNAPSHOTS, seed=seed + 1)
    for family, model in result.candidates.items():
        started = time.perf_counter()
        scored = score_frame(model=model, frame=batch)
        seconds = time.perf_counter() - started
        scoring.add_row(family, "batch score + tier + inputs hash", f"{len(scored):,}", f"{seconds:.2f}",
                        f"{len(scored) / seconds:,.0f}")
        sample = batch.iloc[:20_000]
        started = time.perf_counter()
        explain(model=model, frame=sample)
        seconds = time.perf_counter() - started
        scoring.add_row(family, "explanations (all factors)", f"{len(sample):,}", f"{seconds:.2f}",
                        f"{len(sample) / seconds:,.0f}")
        latencies = []
        for i in range(200):
            started = time.perf_counter()
            score_frame(model=model, frame=batch.iloc[[i]])
            latencies.append(time.perf_counter() - started)
        p50, p99 = np.percentile(latencies, [50, 99]) * 1000
        scoring.add_row(family, f"one row at a time: p50 {p50:.1f} ms, p99 {p99:.1f} ms", "200",
                        f"{sum(latencies):.2f}", f"{200 / sum(latencies):,.0f}")
    console.print(scoring)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    run(max_rows=args.max_rows, seed=args.seed)

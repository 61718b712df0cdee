"""The freshness sensor and its runs in one long-lived process: `python -m pipelines.defs.freshness.loop`.

The daemon starts a new process for every run, which imports the code location again (about 10 s on two busy
cores) and loads the champion again; this loop evaluates the same sensor and executes the same job in-process
against the same Dagster instance (runs are recorded as usual, and the sensor's one-run-at-a-time check sees
them). Use one or the other: the daemon's sensor can be stopped in the Dagster UI.
"""

from __future__ import annotations

import logging
import os
import time

import dagster as dg

from pipelines.definitions import build_definitions
from pipelines.defs.dbt.project import export_dbt_env, prepare_manifest
from pipelines.defs.freshness.sensors import INTERVAL_SECONDS, freshness_sensor

log = logging.getLogger("revorc.freshness")


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None) -> tuple[str | None, list]:
    """One sensor evaluation and the runs it asks for, executed here; returns (the new cursor, the run results)."""
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"postgres": defs.resources["postgres"]})
    evaluation = freshness_sensor.evaluate_tick(context)
    if cursor is None:
        log.info("first tick: %s", evaluation.skip_message or "a run requested")
    job = defs.resolve_job_def("freshness_micro_batch")
    results = [job.execute_in_process(run_config=request.run_config, instance=instance, tags=request.tags,
                                      raise_on_error=False) for request in evaluation.run_requests]
    for result in results:
        log.info("freshness run %s: %s", result.run_id, "success" if result.success else "failed")
    return evaluation.cursor or cursor, results


def run_forever(*, interval: float = INTERVAL_SECONDS) -> None:
    instance = dg.DagsterInstance.get()
    defs = build_definitions()
    # dbt re-parses the whole project (about 15 s on two busy cores) when the profile its partial-parse state was
    # written with differs from the run's; parsing once here with this process's connection lets every run reuse
    # it. Every dbt run of this process is a freshness run: its seeds are loaded and its unit tests run by the
    # hourly and nightly builds.
    export_dbt_env(defs.resources["postgres"].database_url)
    prepare_manifest(force=True)
    os.environ["DBT_EXCLUDE_RESOURCE_TYPES"] = "unit_test seed"
    cursor: str | None = None
    while True:
        started = time.monotonic()
        cursor, _ = tick(defs, instance, cursor)
        # A run that took longer than the interval is followed by the next look at once.
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    run_forever()

"""Every 15 s: did score-moving rows land in `raw` since the last look? Then one freshness run for all of them."""

import os

import dagster as dg

from pipelines.defs.freshness.assets import OP, freshness_job
from pipelines.freshness import format_cursor, parse_cursor, score_moving_since, watermarks
from pipelines.resources import PostgresResource

INTERVAL_SECONDS = 15
IN_PROGRESS = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
               dg.DagsterRunStatus.STARTED]


# Stopped in the daemon by default: `revorc up` evaluates it in the freshness loop's own long-lived process
# (`pipelines/defs/freshness/loop.py`), where a run costs no process start. A deployment without the loop sets
# REVORC_FRESHNESS_RUNNER=daemon (or starts the sensor in the UI).
RUNNER = os.environ.get("REVORC_FRESHNESS_RUNNER", "loop")


@dg.sensor(job=freshness_job, minimum_interval_seconds=INTERVAL_SECONDS,
           default_status=dg.DefaultSensorStatus.RUNNING if RUNNER == "daemon" else dg.DefaultSensorStatus.STOPPED,
           description="New page/track calls, e-mail engagement or intent signals in raw → one freshness run "
                       "(never two at once: while one runs, the next waits and then takes everything new). "
                       "`revorc up` runs it in its freshness loop process; start it here only without that loop.")
def freshness_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource):
    if context.instance.get_run_records(dg.RunsFilter(job_name=freshness_job.name, statuses=IN_PROGRESS),
                                        limit=1):
        return dg.SkipReason("a freshness run is under way; the next one takes everything that arrives meanwhile")
    with postgres.connect() as conn:
        upto = watermarks(conn)
        if context.cursor is None:
            # Starting now: history is the hourly and nightly builds' job, not one giant micro-batch.
            context.update_cursor(format_cursor(upto))
            return dg.SkipReason("started: watching raw from here")
        after = parse_cursor(context.cursor)
        moving = score_moving_since(conn, after, upto)
    if upto != after:
        context.update_cursor(format_cursor(upto))
    if not any(moving.values()):
        return dg.SkipReason("no score-moving events since the last look")
    return dg.RunRequest(run_key=format_cursor(upto), tags={"trigger": "freshness"},
                         run_config={"ops": {OP: {"config": {"after": format_cursor(after)}}}})

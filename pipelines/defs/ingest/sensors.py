"""A sensor that starts the hourly job as soon as new files appear in the landing zone."""

import hashlib
import json

import dagster as dg

from pipelines.defs.ingest.schedules import hourly_job
from pipelines.ingest.sources import SOURCES
from pipelines.resources import LandingZoneResource

WATCHED = [*SOURCES, "crm"]


def landing_cursor(files: list[tuple[str, int]]) -> str:
    return hashlib.sha256(json.dumps(sorted(files)).encode()).hexdigest()


@dg.sensor(job=hourly_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="New or changed landing files → one run of the ingest-and-transform job.")
def landing_files_sensor(context: dg.SensorEvaluationContext, landing: LandingZoneResource):
    files = landing.landing().fingerprint(WATCHED)
    cursor = landing_cursor(files)
    if not files or cursor == context.cursor:
        return dg.SkipReason("no new landing files")
    context.update_cursor(cursor)
    return dg.RunRequest(run_key=cursor, tags={"trigger": "landing_files"})

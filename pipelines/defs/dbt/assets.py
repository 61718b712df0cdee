"""Every dbt model, seed and test as Dagster assets and asset checks."""

import json
import os

import dagster as dg
import psycopg
from dagster_dbt import DbtCliResource, dbt_assets

from pipelines.defs.dbt.project import dbt_env, dbt_project, hourly_build_args, require_manifest
from pipelines.defs.dbt.translator import RevorcDbtTranslator
from pipelines.defs.dbt.views import ViewRecord
from pipelines.resources import PostgresResource
from serving.core.db import libpq_url

# Only under `dagster dev` does dagster-dbt re-parse here (its documented development loop); everywhere else the
# manifest comes from the explicit prepare step, so loading the code location never runs dbt.
dbt_project.prepare_if_dev()
require_manifest()


# The hourly job (pipelines/defs/ingest/schedules.py) leaves out the data tests tagged `nightly`, the unit tests
# and the views no build needs to recreate (`views.py`; their tests go with them): the nightly full rebuild and
# every other build (CI's graph test, `revorc materialize`) run them all.
HOURLY_JOB = "hourly_ingest_and_transform"


class DbtBuildConfig(dg.Config):
    full_refresh: bool = False
    # pin "today" (YYYY-MM-DD) for reproducible runs and tests; empty = the database's current_date
    as_of: str = ""


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=RevorcDbtTranslator(),
            name="revorc_dbt_models")
def revorc_dbt_models(context: dg.AssetExecutionContext, config: DbtBuildConfig, dbt: DbtCliResource,
                      postgres: PostgresResource):
    os.environ.update(dbt_env(postgres.database_url))
    args = ["build"]
    if config.full_refresh:
        args.append("--full-refresh")
    if config.as_of:
        args += ["--vars", f"{{as_of: '{config.as_of}'}}"]
    manifest = json.loads(dbt_project.manifest_path.read_text())
    with psycopg.connect(libpq_url(postgres.database_url)) as conn:
        # made before the build: the sources' data versions it records for the tables are read now
        record = ViewRecord(conn, dbt_project.manifest_path.parent, manifest=manifest, as_of=config.as_of or None)
    if context.run.job_name == HOURLY_JOB and not config.full_refresh:
        args += hourly_build_args(record.leave_out(manifest))
    invocation = dbt.cli(args, context=context, raise_on_error=False)
    yield from invocation.stream()
    # what this build left current, so the next hourly build can leave those views out (failures forgotten)
    if (invocation.target_path / "run_results.json").exists():
        record.update(invocation.get_artifact("manifest.json"), invocation.get_artifact("run_results.json"))
    if not invocation.is_successful():
        raise invocation.get_error() or RuntimeError("dbt build failed")

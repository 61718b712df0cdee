"""Every dbt model, seed and test as Dagster assets and asset checks."""

import os

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from pipelines.defs.dbt.project import HOURLY_BUILD_EXCLUDES, dbt_env, dbt_project, require_manifest
from pipelines.defs.dbt.translator import RevorcDbtTranslator
from pipelines.resources import PostgresResource

# Only under `dagster dev` does dagster-dbt re-parse here (its documented development loop); everywhere else the
# manifest comes from the explicit prepare step, so loading the code location never runs dbt.
dbt_project.prepare_if_dev()
require_manifest()


# The hourly job (pipelines/defs/ingest/schedules.py) leaves out the data tests tagged `nightly` and the unit tests
# (HOURLY_BUILD_EXCLUDES): the nightly full rebuild and every other build (CI's graph test, `revorc materialize`)
# run them all.
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
    if context.run.job_name == HOURLY_JOB and not config.full_refresh:
        args += HOURLY_BUILD_EXCLUDES
    yield from dbt.cli(args, context=context).stream()

"""Jobs and schedules: ingest + dbt + reverse-ETL + lead scores hourly (incremental), a full rebuild nightly."""

from __future__ import annotations

import dagster as dg

INCREMENTAL_SELECTION = (
    dg.AssetSelection.groups("ingest") | dg.AssetSelection.groups("dbt") | dg.AssetSelection.groups("reverse_etl")
    # lead scoring follows every dbt build; training has its own nightly job (pipelines/defs/ml/schedules.py)
    | dg.AssetSelection.tag("revorc/ml_stage", "scoring")
)

hourly_job = dg.define_asset_job("hourly_ingest_and_transform", selection=INCREMENTAL_SELECTION,
                                 description="New landing files → raw → dbt build (incremental) → reverse-ETL.")
nightly_job = dg.define_asset_job(
    "nightly_full_rebuild",
    # training and the search reindex have their own schedules (the index follows every write through its queue)
    selection=dg.AssetSelection.all() - dg.AssetSelection.tag("revorc/ml_stage", "training")
    - dg.AssetSelection.groups("search"),
    description="Everything, with dbt --full-refresh (incremental facts rebuilt from raw).",
    config={"ops": {"revorc_dbt_models": {"config": {"full_refresh": True}}}},
)

hourly_schedule = dg.ScheduleDefinition(name="hourly_ingest_and_transform_schedule", job=hourly_job,
                                        cron_schedule="5 * * * *", default_status=dg.DefaultScheduleStatus.RUNNING)
nightly_schedule = dg.ScheduleDefinition(name="nightly_full_rebuild_schedule", job=nightly_job,
                                         cron_schedule="30 2 * * *", default_status=dg.DefaultScheduleStatus.RUNNING)

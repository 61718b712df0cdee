"""Nightly training of the `ml` group (after the nightly full rebuild); scoring also runs in the hourly job."""

from __future__ import annotations

import dagster as dg

from pipelines.defs.ml.assets import SCORING_TAGS, TRAINING_TAGS

ML_TRAINING_SELECTION = dg.AssetSelection.groups("ml")
# The hourly ingest → dbt job includes these, so scores follow every dbt build.
ML_SCORING_SELECTION = dg.AssetSelection.tag(*next(iter(SCORING_TAGS.items())))
ML_TRAINING_ONLY = dg.AssetSelection.tag(*next(iter(TRAINING_TAGS.items())))

lead_scoring_training_job = dg.define_asset_job(
    "nightly_lead_scoring_training", selection=ML_TRAINING_SELECTION,
    description="Training set → model per organization (champion rule) → score open prospects → write back.")

lead_scoring_training_schedule = dg.ScheduleDefinition(
    name="nightly_lead_scoring_training_schedule", job=lead_scoring_training_job, cron_schedule="15 3 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING)

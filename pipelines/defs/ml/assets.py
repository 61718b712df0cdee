"""The `ml` group: lead-scoring training set → model (champion per organization) → scores for open prospects,
written back to `app` (priority/qualification scores, ai_insights factors, daily history, threshold hook).

Bodies are thin: the work is in `pipelines.ml.training` / `pipelines.ml.scoring` and the library.
"""


from typing import Any

import dagster as dg
from dagster_dbt import get_asset_key_for_model
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from pipelines.defs.dbt.assets import revorc_dbt_models
from pipelines.defs.ml.resources import RevorcHomeResource
from pipelines.ml import scoring, training
from pipelines.resources import PostgresResource
from serving.scoring.registry_store import organization_registry

GROUP = "ml"
FEATURES = get_asset_key_for_model([revorc_dbt_models], "ml_lead_features")
TRAINING_SET = dg.AssetKey(["ml", "lead_scoring_training_set"])
MODEL = dg.AssetKey(["ml", "lead_scoring_model"])
SCORES = dg.AssetKey(["ml", "prospect_lead_scores"])
# Tags the schedules select on: training runs nightly, scoring after every dbt build (the hourly job).
TRAINING_TAGS = {"revorc/ml_stage": "training"}
SCORING_TAGS = {"revorc/ml_stage": "scoring"}


class TrainingConfig(dg.Config):
    seed: int = 0
    # days between a training label's window end and the validation start; empty = the label window (30)
    embargo_days: int | None = None


def owner_session(postgres: PostgresResource) -> Session:
    return postgres.session(pool="ml")


def _table(rows: list[dict[str, Any]]) -> dg.MetadataValue:
    return dg.MetadataValue.json(rows)


@dg.asset(key=TRAINING_SET, group_name=GROUP, deps=[FEATURES], kinds={"python", "parquet"}, tags=TRAINING_TAGS,
          description="Label-complete rows of ml_lead_features per organization, frozen as parquet next to the "
                      "organization's models; organizations with too little labelled history are skipped.")
def lead_scoring_training_set(context: dg.AssetExecutionContext, postgres: PostgresResource,
                              revorc_home: RevorcHomeResource) -> dict[str, dict[str, Any]]:
    manifest: dict[str, dict[str, Any]] = {}
    with owner_session(postgres) as session, session.begin():
        for state in training.organization_readiness(session):
            entry = {"rows": state.rows, "positives": state.positives, "snapshot_dates": state.snapshot_dates}
            if not state.ready:
                manifest[state.organization_id] = {**entry, "status": "skipped", "reason": state.reason}
                continue
            frame = training.load_training_frame(session, state.organization_id)
            path = training.training_path(revorc_home.home, state.organization_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.to_parquet(path, index=False)
            manifest[state.organization_id] = {**entry, "status": "ready", "path": str(path)}
    ready = [org for org, m in manifest.items() if m["status"] == "ready"]
    context.add_output_metadata({
        "organizations_ready": len(ready), "organizations_skipped": len(manifest) - len(ready),
        "rows": sum(m["rows"] for org, m in manifest.items() if org in ready),
        "organizations": _table([{"organization_id": org, **m} for org, m in manifest.items()]),
    })
    return manifest


@dg.asset(key=MODEL, group_name=GROUP, ins={"training_set": dg.AssetIn(key=TRAINING_SET)},
          kinds={"scikit-learn"}, tags=TRAINING_TAGS,
          description="Calibrated candidates trained on a time split per organization, registered in app.ml_models "
                      "(skops artifacts under REVORC_HOME); champion only if better on the same holdout.")
def lead_scoring_model(context: dg.AssetExecutionContext, config: TrainingConfig, training_set: dict,
                       postgres: PostgresResource, revorc_home: RevorcHomeResource) -> dg.MaterializeResult:
    import pandas as pd

    outcomes = []
    for org, entry in training_set.items():
        if entry.get("status") != "ready":
            outcomes.append(training.TrainingOutcome(org, "skipped", entry.get("reason", "not ready")))
            continue
        frame = pd.read_parquet(entry["path"])
        with threadpool_limits(limits=revorc_home.threads, user_api="openmp"), \
                owner_session(postgres) as session, session.begin():
            outcome = training.train_organization(session, organization_id=org, frame=frame,
                                                  home=revorc_home.home, seed=config.seed,
                                                  embargo_days=config.embargo_days)
        context.log.info(f"organization {org}: {outcome.status} {outcome.version or ''} — {outcome.reason}")
        outcomes.append(outcome)
    trained = [o for o in outcomes if o.status == "trained"]
    return dg.MaterializeResult(metadata={
        "models_trained": len(trained), "models_promoted": sum(o.promoted for o in trained),
        "organizations_skipped": len(outcomes) - len(trained),
        "outcomes": _table([{k: v for k, v in o.to_dict().items() if k != "details"} for o in outcomes]),
    })


@dg.asset(key=SCORES, group_name=GROUP, deps=[MODEL, FEATURES], kinds={"scikit-learn", "postgres"},
          tags=SCORING_TAGS,
          description="Open prospects scored by their organization's champion, blended with team rule sets; "
                      "logged to app.ai_predictions; priority_score / qualification_score / ai_insights written "
                      "back (changed rows only), lead_score_history for today, lead.score_threshold_crossed events.")
def prospect_lead_scores(context: dg.AssetExecutionContext, postgres: PostgresResource,
                         revorc_home: RevorcHomeResource) -> dg.MaterializeResult:
    summary: list[dict[str, Any]] = []
    totals = scoring.WriteResult()
    with owner_session(postgres) as session:
        with session.begin():
            champions = session.execute(scoring.CHAMPIONS).all()
        for org, version in champions:
            with threadpool_limits(limits=revorc_home.threads, user_api="openmp"), session.begin():
                model = organization_registry(session, org, home=revorc_home.home).load(version)
                frame = scoring.load_open_prospects(session, org)
                rule_sets, _ = scoring.load_rule_sets(session, org)
                scored = scoring.score_open_prospects(model=model, frame=frame, rule_sets=rule_sets)
                written = scoring.write_scores(session, organization_id=org, scored=scored)
            summary.append({"organization_id": org, "model_version": version, **written.to_dict()})
            for key, value in written.to_dict().items():
                setattr(totals, key, getattr(totals, key) + value)
    return dg.MaterializeResult(metadata={
        "organizations": len(summary), **{k: dg.MetadataValue.int(v) for k, v in totals.to_dict().items()},
        "per_organization": _table(summary),
        "status": "no organization has a champion model yet" if not summary else "scored",
    })

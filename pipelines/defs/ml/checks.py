"""Asset checks of the `ml` group: model quality at training time, score drift at scoring time."""

from __future__ import annotations

from typing import Any

import dagster as dg
from sqlalchemy import text

from models.lead_scoring.evaluate import histogram_sample, population_stability_index
from pipelines.defs.ml.assets import MODEL, SCORES, owner_session
from pipelines.ml.training import ROC_AUC_FLOOR, ROC_AUC_TOLERANCE, quality_problems
from pipelines.resources import PostgresResource

PSI_WARN = 0.2
MIN_DRIFT_ROWS = 50  # fewer scored prospects than this say nothing about a distribution

LATEST_MODELS = text("""
    select distinct on (organization_id) organization_id::text, version, evaluation
    from app.ml_models where name = 'lead_scoring'
    order by organization_id, registered_at desc, version_number desc nulls last""")

CHAMPION_SCORES = text("""
    select m.organization_id::text, m.version, m.score_distribution,
           array_remove(array_agg(p.qualification_score), null) as scores
    from app.ml_models as m
    left join app.prospects as p
        on p.organization_id = m.organization_id and p.ai_insights ->> 'modelVersion' = m.version
    where m.is_champion and m.name = 'lead_scoring'
    group by 1, 2, 3""")


@dg.asset_check(asset=MODEL, name="lead_scoring_model_quality", blocking=False,
                description=f"The newest model per organization: validation ROC-AUC ≥ {ROC_AUC_FLOOR} and no worse "
                            f"than the champion's on the same holdout by more than {ROC_AUC_TOLERANCE}.")
def lead_scoring_model_quality(postgres: PostgresResource) -> dg.AssetCheckResult:
    with owner_session(postgres) as session, session.begin():
        rows = session.execute(LATEST_MODELS).all()
    results: list[dict[str, Any]] = []
    for org, version, evaluation in rows:
        problems = quality_problems(evaluation or {})
        holdout = (evaluation or {}).get("holdout") or {}
        results.append({"organization_id": org, "version": version,
                        "roc_auc": (holdout.get("challenger") or {}).get("roc_auc"),
                        "champion_roc_auc": (holdout.get("champion") or {}).get("roc_auc"),
                        "problems": problems})
    failing = [r for r in results if r["problems"]]
    return dg.AssetCheckResult(
        passed=not failing,
        metadata={"models_checked": len(results), "models_failing": len(failing),
                  "details": dg.MetadataValue.json(results),
                  "summary": "no models registered yet" if not results else
                  ("; ".join(f"{r['organization_id']} {r['version']}: {', '.join(r['problems'])}" for r in failing)
                   or "all newest models pass")})


@dg.asset_check(asset=SCORES, name="lead_score_drift", blocking=False,
                description=f"Population stability index of the champion's scores for open prospects vs its "
                            f"training window (warn above {PSI_WARN}).")
def lead_score_drift(postgres: PostgresResource) -> dg.AssetCheckResult:
    with owner_session(postgres) as session, session.begin():
        rows = session.execute(CHAMPION_SCORES).all()
    results = []
    for org, version, reference, scores in rows:
        if not reference or len(scores or []) < MIN_DRIFT_ROWS:
            results.append({"organization_id": org, "version": version, "psi": None,
                            "note": f"{len(scores or [])} scored prospects; at least {MIN_DRIFT_ROWS} needed"})
            continue
        psi = population_stability_index(expected=histogram_sample(reference), actual=scores)
        results.append({"organization_id": org, "version": version, "psi": round(psi, 4), "rows": len(scores)})
    drifting = [r for r in results if r["psi"] is not None and r["psi"] > PSI_WARN]
    worst = max((r["psi"] for r in results if r["psi"] is not None), default=None)
    return dg.AssetCheckResult(
        passed=not drifting, severity=dg.AssetCheckSeverity.WARN,
        metadata={"max_psi": dg.MetadataValue.float(float(worst)) if worst is not None else
                  dg.MetadataValue.text("n/a"),
                  "organizations_drifting": len(drifting), "details": dg.MetadataValue.json(results)})


ml_checks = [lead_scoring_model_quality, lead_score_drift]

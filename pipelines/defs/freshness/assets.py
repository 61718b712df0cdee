"""The freshness micro-batch: score-moving raw rows → the `freshness` subset of the dbt assets → intent written back
and lead scores recomputed for just the prospects and accounts those rows concern. `sensors.py` starts it."""

import time

import dagster as dg
from dagster_dbt import build_dbt_asset_selection, get_asset_key_for_model
from threadpoolctl import threadpool_limits

from pipelines.defs.dbt.assets import revorc_dbt_models
from pipelines.defs.ml.resources import RevorcHomeResource
from pipelines.events import publish_intent_spikes
from pipelines.freshness import affected_entities, parse_cursor
from pipelines.ml import scoring
from pipelines.resources import PostgresResource
from pipelines.reverse_etl import ACCOUNT_INTENT_FOR, PROSPECT_INTENT_FOR, write_back_ids

GROUP = "freshness"
SCORES = dg.AssetKey(["freshness", "prospect_scores"])
OP = "freshness__prospect_scores"
# dbt's own selector (dbt_project/selectors.yml) names the models a new event must pass through: the intent chain
# (incremental by entity) and the event marts the live lead-score features read, without views, seeds or
# ml_lead_features (its weekly snapshots do not move with today's events: the rescoring recomputes the
# event-driven features as of now, `pipelines.ml.scoring.LIVE_FEATURES`).
SELECTOR = "freshness"
READS = ("fct_prospect_intent", "fct_account_intent", "intent_score_history", "fct_email_events",
         "fct_website_sessions", "int_website__events_attributed", "int_intent__entity_signals")


def dbt_selection() -> dg.AssetSelection:
    return build_dbt_asset_selection([revorc_dbt_models], dbt_selector=SELECTOR)


class FreshnessConfig(dg.Config):
    # the sensor's cursor this run starts after ("website_events=…,email_events=…,intent_signals=…");
    # empty (a run not started by the sensor, e.g. the nightly rebuild) has nothing of its own to do
    after: str = ""


@dg.asset(key=SCORES, group_name=GROUP, kinds={"postgres", "scikit-learn"},
          deps=[get_asset_key_for_model([revorc_dbt_models], name) for name in READS],
          description="For the prospects and accounts that new score-moving events concern: intent score/tier "
                      "written back, intent.spike_detected events, lead scores recomputed with the cached champion "
                      "and written back as the batch does (lead.score_threshold_crossed included).")
def freshness_prospect_scores(context: dg.AssetExecutionContext, config: FreshnessConfig,
                              postgres: PostgresResource, revorc_home: RevorcHomeResource) -> dg.MaterializeResult:
    if not config.after:
        return dg.MaterializeResult(metadata={"status": "no cursor: nothing to refresh"})
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    with postgres.connect() as conn:
        affected = affected_entities(conn, parse_cursor(config.after))
        seconds["find_affected"] = time.perf_counter() - started
        prospects = write_back_ids(conn, PROSPECT_INTENT_FOR, affected.prospect_ids)
        accounts = write_back_ids(conn, ACCOUNT_INTENT_FOR, affected.accounts)
    with postgres.session(pool="events", pool_size=2) as session, session.begin():
        spikes = publish_intent_spikes(session)
    seconds["intent_write_back"] = time.perf_counter() - started - seconds["find_affected"]
    totals = scoring.WriteResult()
    mark = time.perf_counter()
    with postgres.session(pool="ml") as session:
        for org, ids in affected.prospects.items():
            with threadpool_limits(limits=revorc_home.threads, user_api="openmp"), session.begin():
                written = scoring.rescore_prospects(session, organization_id=org, prospect_ids=ids,
                                                    home=revorc_home.home)
            for key, value in written.to_dict().items():
                setattr(totals, key, getattr(totals, key) + value)
    seconds["rescore_and_write_back"] = time.perf_counter() - mark
    context.log.info(f"freshness: {len(affected.prospect_ids)} prospects, {len(affected.accounts)} accounts, "
                     + ", ".join(f"{k} {v:.2f}s" for k, v in seconds.items()))
    return dg.MaterializeResult(metadata={
        "prospects": len(affected.prospect_ids), "accounts": len(affected.accounts),
        "prospect_intent_changed": prospects["rows_changed"], "account_intent_changed": accounts["rows_changed"],
        "intent_spike_events": spikes, **{f"lead_{k}": v for k, v in totals.to_dict().items()},
        **{f"seconds_{k}": dg.MetadataValue.float(round(v, 3)) for k, v in seconds.items()},
    })


freshness_job = dg.define_asset_job(
    "freshness_micro_batch", selection=dbt_selection().without_checks() | dg.AssetSelection.assets(SCORES),
    # One process for every step: a process per step would import the code location again for each.
    executor_def=dg.in_process_executor,
    description="Score-moving events since the last run → the freshness dbt subset (no tests: the hourly and "
                "nightly builds run them) → intent and lead scores of just the affected prospects.")

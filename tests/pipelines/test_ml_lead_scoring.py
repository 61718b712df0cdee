"""Materialize the `ml` group on a planted-signal feature mart: champion, predictions, write-back, history,
explanations that add up, threshold events (and their notifications) exactly once, organizations without
history skipped."""

from __future__ import annotations

import dagster as dg
import psycopg
import pytest
from threadpoolctl import threadpool_limits

from pipelines.definitions import ML_ASSETS, resources
from pipelines.defs.ml.assets import prospect_lead_scores
from pipelines.defs.ml.checks import ml_checks
from pipelines.ingest.ledger import psycopg_conninfo
from tests.conftest import make_settings
from tests.factories import make_tenant
from tests.pipelines.ml_data import open_rows, planted_feature_mart

THRESHOLD = 40
RULES = {"name": "Exec boost", "mode": "blend", "ml_weight": 0.7, "base_points": 10,
         "rules": [{"name": "Executive title", "points": 40,
                    "when": [{"op": "contains", "column": "title", "values": ["chief", "vp"]}]}]}


def _rows(database, query, *params):
    with psycopg.connect(psycopg_conninfo(database)) as conn:
        return conn.execute(query, params).fetchall()


def _events(result) -> dict[str, dict]:
    return {e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
            for e in result.get_asset_materialization_events()}


@pytest.fixture(scope="module")
def ml_run(pg, tmp_path_factory):
    database = pg.url(pg.clone())
    state = tmp_path_factory.mktemp("ml")
    settings = make_settings(database, state)
    tenant = make_tenant(settings)
    sparse = make_tenant(settings)  # a handful of rows: skipped with a reason
    frame = planted_feature_mart(database=database, organization_id=tenant.organization_id, team_id=tenant.team_id,
                                 owner_id=tenant.user.id, n_prospects=900)
    planted_feature_mart(database=database, organization_id=sparse.organization_id, team_id=sparse.team_id,
                         owner_id=sparse.user.id, n_prospects=10, seed=5)
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        conn.execute("insert into app.scoring_rule_sets (id, organization_id, team_id, name, mode, ml_weight, rules,"
                     " score_threshold) values (gen_random_uuid(), %s, %s, %s, 'blend', 0.7, %s, %s)",
                     (tenant.organization_id, tenant.team_id, RULES["name"], psycopg.types.json.Jsonb(RULES),
                      THRESHOLD))
        # Half the prospects were scored before (below the threshold), half never (NULL, as every new one).
        conn.execute("update app.prospects set priority_score = 5 where id in (select id from app.prospects"
                     " where organization_id = %s order by id limit %s)", (tenant.organization_id, 450))
    res = resources(database_url=database, landing_url=str(state / "landing"), revorc_home=str(state))
    with threadpool_limits(limits=1, user_api="openmp"):
        first = dg.materialize([*ML_ASSETS, *ml_checks], resources=res, instance=dg.DagsterInstance.ephemeral(),
                               run_config={"ops": {"ml__lead_scoring_model": {"config": {"seed": 0}}}},
                               raise_on_error=False)
        again = dg.materialize([prospect_lead_scores], resources=res, instance=dg.DagsterInstance.ephemeral())
    delivered = tenant.deliver_events()  # what the worker does with the events the pipeline published
    yield {"first": first, "again": again, "delivered": delivered, "database": database, "tenant": tenant,
           "sparse": sparse, "frame": frame, "state": state}
    pg.drop(database.rsplit("/", 1)[-1].split("?")[0])


def test_group_succeeds_and_checks_pass(ml_run):
    result = ml_run["first"]
    assert result.success, [e.message for e in result.all_events if e.is_failure][:3]
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["lead_scoring_model_quality"].passed
    assert set(checks) == {"lead_scoring_model_quality", "lead_score_drift"}


def test_champion_registered_with_planted_signal_recovered(ml_run):
    db, org = ml_run["database"], ml_run["tenant"].organization_id
    rows = _rows(db, "select version, is_champion, status, metrics ->> 'roc_auc', artifact_sha256,"
                     " jsonb_array_length(score_distribution), model_card ->> 'family'"
                     " from app.ml_models where organization_id = %s", org)
    assert len(rows) == 1
    version, champion, status, roc_auc, sha, bins, family = rows[0]
    assert (version, champion, status, bins) == ("v1", True, "champion", 101)
    assert float(roc_auc) > 0.7 and len(sha) == 64 and family
    assert (ml_run["state"] / "models" / "lead_scoring" / str(org) / "v1" / "model.skops").exists()


def test_sparse_organization_skipped_with_reason(ml_run):
    outcomes = _events(ml_run["first"])["ml/lead_scoring_training_set"]["organizations"]
    sparse = next(o for o in outcomes if o["organization_id"] == str(ml_run["sparse"].organization_id))
    assert sparse["status"] == "skipped" and "at least" in sparse["reason"]
    assert _rows(ml_run["database"], "select count(*) from app.ml_models where organization_id = %s",
                 ml_run["sparse"].organization_id) == [(0,)]


def test_open_prospects_scored_logged_and_written_back(ml_run):
    db, org = ml_run["database"], ml_run["tenant"].organization_id
    n_open = len(open_rows(ml_run["frame"]))
    assert _rows(db, "select count(*), count(distinct prospect_id) from app.ai_predictions"
                     " where organization_id = %s and source = 'batch'", org) == [(n_open, n_open)]
    scored = _rows(db, "select count(*) from app.prospects where organization_id = %s and priority_score"
                       " between 0 and 100 and qualification_score is not null"
                       " and ai_insights ->> 'modelVersion' = 'v1'", org)
    assert scored == [(n_open,)]
    history = _rows(db, "select count(*), min(score_date) = current_date from app.lead_score_history"
                        " where organization_id = %s", org)
    assert history == [(n_open, True)]


def test_explanations_add_up_to_the_score(ml_run):
    rows = _rows(ml_run["database"], "select priority_score, ai_insights from app.prospects where organization_id = %s",
                 ml_run["tenant"].organization_id)
    for score, insights in rows:
        lead = insights["leadScore"]
        factors = insights["topFactors"]
        assert len(factors) <= 5 and all({"factor", "impact", "text"} <= set(f) for f in factors)
        assert lead["baseline"] + sum(f["impact"] for f in factors) + lead["otherFactorsImpact"] == score
        assert lead["mode"] == "blend" and lead["score"] == score
    # the executive rule is one of the factors where it fired
    assert any(f["factor"] == "Executive title" for _, i in rows for f in i["topFactors"])


def test_threshold_crossing_notifies_once(ml_run):
    db, tenant = ml_run["database"], ml_run["tenant"]
    crossed = _rows(db, "select count(*) from app.prospects where organization_id = %s and priority_score >= %s",
                    tenant.organization_id, THRESHOLD)[0][0]
    assert crossed > 0
    # The pipeline published one event per crossing; the notification, the timeline entry and the webhook log are
    # its subscribers (the log writes nothing without an endpoint).
    events = _rows(db, "select count(*), count(distinct subject_id), count(dispatched_at) from app.domain_events"
                       " where organization_id = %s and type = 'lead.score_threshold_crossed'", tenant.organization_id)
    assert events == [(crossed, crossed, crossed)]
    deliveries = _rows(db, "select d.subscriber, d.status, count(*) from app.domain_event_deliveries as d"
                           " where d.organization_id = %s group by 1, 2 order by 1", tenant.organization_id)
    assert deliveries == [("notifications.score_threshold", "done", crossed),
                          ("timeline.score_threshold", "done", crossed), ("webhooks.log", "done", crossed)]
    assert ml_run["delivered"].delivered == 3 * crossed and ml_run["delivered"].dead == 0
    notes = _rows(db, "select user_id, type, data ->> 'threshold', count(*) over (partition by data ->> 'prospectId')"
                      " from app.notifications where organization_id = %s", tenant.organization_id)
    assert len(notes) == crossed
    assert {(n[0], n[1], n[2], n[3]) for n in notes} == {(tenant.user.id, "lead.score_threshold_crossed",
                                                          str(THRESHOLD), 1)}
    activities = _rows(db, "select count(*), count(distinct prospect_id) from app.activities where organization_id = %s"
                           " and type = 'note_added' and metadata ->> 'kind' = 'score_threshold_crossed'",
                       tenant.organization_id)
    assert activities == [(crossed, crossed)]
    # A first score at or above the threshold is a crossing too, and its texts say so rather than vanish.
    kinds = _rows(db, "select n.data ->> 'previousScore' is null, count(*), count(n.body), count(a.description)"
                      " from app.notifications as n inner join app.activities as a"
                      " on a.prospect_id = (n.data ->> 'prospectId')::uuid and a.metadata ->> 'kind' = %s"
                      " where n.organization_id = %s group by 1 order by 1",
                  "score_threshold_crossed", tenant.organization_id)
    assert [k[0] for k in kinds] == [False, True] and all(k[1] == k[2] == k[3] > 0 for k in kinds)
    first = _rows(db, "select body from app.notifications where organization_id = %s"
                      " and data ->> 'previousScore' is null limit 1", tenant.organization_id)[0][0]
    assert "(first score)" in first
    assert _events(ml_run["first"])["ml/prospect_lead_scores"]["thresholds_crossed"] == crossed


def test_second_scoring_run_changes_nothing(ml_run):
    again = _events(ml_run["again"])["ml/prospect_lead_scores"]
    assert again["scored"] == len(open_rows(ml_run["frame"]))
    assert (again["predictions_logged"], again["prospects_changed"], again["history_rows"],
            again["thresholds_crossed"], again["events_published"]) == (0, 0, 0, 0, 0)

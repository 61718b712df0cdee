"""The freshness micro-batch end to end: page views posted through the API (and an intent signal landed in raw)
→ the sensor asks for one run → the real dbt subset, intent write-back and rescoring with the champion move that
prospect's intent and lead score in app.prospects; other prospects and other organizations are left alone; the
sensor skips when nothing score-moving arrived and while a run is under way."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from models.lead_scoring.synthetic import make_feature_frame
from models.lead_scoring.train import train
from pipelines.definitions import ASSETS, build_definitions, resources
from pipelines.defs.freshness.sensors import freshness_sensor
from pipelines.freshness import parse_cursor
from pipelines.ingest.ledger import psycopg_conninfo
from serving.core.db import engine_for
from serving.main import create_app
from serving.scoring.registry_store import organization_registry
from tests.conftest import make_settings
from tests.factories import make_tenant

pytestmark = pytest.mark.slow
ROW = ("select intent_score, intent_tier, priority_score, qualification_score, ai_insights, updated_at"
       " from app.prospects where id = %s")


def _rows(database, ids) -> dict[uuid.UUID, tuple]:
    with psycopg.connect(psycopg_conninfo(database)) as conn:
        return {i: conn.execute(ROW, (i,)).fetchone() for i in ids}


def _prospect(conn, org, account, owner, email) -> uuid.UUID:
    pid = uuid.uuid4()
    conn.execute("insert into app.prospects (id, organization_id, account_id, owner_id, email, title, created_at)"
                 " values (%s, %s, %s, %s, %s, 'VP of Sales', now() - interval '60 days')",
                 (pid, org, account, owner, email))
    return pid


def _write_key(client, tenant) -> str:
    response = client.post("/api/v1/api-keys", headers=tenant.admin.headers,
                           json={"name": "site", "scopes": ["events:write"]})
    assert response.status_code == 201, response.text
    body = response.json().get("data", response.json())
    return next(v for v in body.values() if isinstance(v, str) and v.startswith("sk_live_") and len(v) > 20)


def _page(client, key, *, email, path, at, kind="page"):
    message = {"type": kind, "messageId": str(uuid.uuid4()), "userId": email, "anonymousId": f"anon-{email}",
               "timestamp": at.isoformat().replace("+00:00", "Z"), "properties": {"path": path,
                                                                                  "url": f"https://x.test{path}"}}
    if kind == "identify":
        message["traits"] = {"email": email}
    response = client.post(f"/v1/{kind}", headers={"X-API-Key": key}, json=message)
    assert response.status_code < 300, response.text


def _signal(conn, org, email, strength=9.0) -> None:
    # what the intent ingest lands from a feed file
    conn.execute("insert into raw.intent_signals (organization_id, signal_type, prospect_email, topic, strength,"
                 " occurred_at, expires_at, provider, source) values (%s, 'website_visit', %s, 'pricing', %s,"
                 " now() - interval '1 minute', now() + interval '30 days', 'test', 'test')", (org, email, strength))


@pytest.fixture(scope="module")
def world(pg, tmp_path_factory):
    database = pg.url(pg.clone())
    state = tmp_path_factory.mktemp("freshness")
    settings = make_settings(database, state)
    a, b = make_tenant(settings), make_tenant(settings)
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        ids = {}
        for key, tenant in (("a", a), ("b", b)):
            account = uuid.uuid4()
            conn.execute("insert into app.accounts (id, organization_id, name, domain) values (%s, %s, 'Acme',"
                         " 'acme.test')", (account, tenant.organization_id))
            ids[key] = _prospect(conn, tenant.organization_id, account, tenant.user.id, "hot@acme.test")
            ids[key + "_calm"] = _prospect(conn, tenant.organization_id, account, tenant.user.id, "calm@acme.test")
    # A champion for both organizations (the synthetic generator's signal: intent and engagement convert).
    with threadpool_limits(limits=1, user_api="openmp"):
        model = train(make_feature_frame(n_prospects=600, n_snapshots=4, seed=3), seed=0,
                      families=("logistic_regression",)).best
    with Session(engine_for(settings.owner_database_url)) as session, session.begin():
        for tenant in (a, b):
            organization_registry(session, tenant.organization_id, home=settings.home).register(model)
    # The batch path first: every mart built and every score written once, as the hourly job leaves them.
    res = resources(database_url=database, landing_url=str(state / "landing"), revorc_home=str(state))
    batch = (dg.AssetSelection.groups("dbt") | dg.AssetSelection.groups("reverse_etl")
             | dg.AssetSelection.assets(dg.AssetKey(["ml", "prospect_lead_scores"])))
    result = dg.materialize(ASSETS, selection=batch, resources=res, instance=dg.DagsterInstance.ephemeral(),
                            raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure][:3]
    defs = build_definitions(database_url=database, landing_url=str(state / "landing"), revorc_home=str(state))
    with TestClient(create_app(settings)) as client:
        yield {"database": database, "a": a, "b": b, "ids": ids, "client": client, "key": _write_key(client, a),
               "defs": defs, "instance": dg.DagsterInstance.ephemeral(), "postgres": res["postgres"]}
    pg.drop(database.rsplit("/", 1)[-1].split("?")[0])


def _evaluate(world, cursor):
    context = dg.build_sensor_context(instance=world["instance"], cursor=cursor,
                                      resources={"postgres": world["postgres"]})
    result = freshness_sensor.evaluate_tick(context)
    return result, result.cursor or cursor


def _execute(world, request: dg.RunRequest):
    job = world["defs"].resolve_job_def("freshness_micro_batch")
    with threadpool_limits(limits=1, user_api="openmp"):
        result = job.execute_in_process(run_config=request.run_config, instance=world["instance"],
                                        tags=request.tags, raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure][:3]
    return result


def test_page_views_move_intent_and_lead_score_of_that_prospect_only(world):
    ids, database = world["ids"], world["database"]
    first, cursor = _evaluate(world, None)
    assert not first.run_requests and "started" in first.skip_message
    idle, cursor = _evaluate(world, cursor)
    assert not idle.run_requests and "no score-moving" in idle.skip_message

    before = _rows(database, ids.values())
    now = datetime.now(UTC)
    for minutes, path in ((3, "/"), (2, "/pricing"), (1, "/demo")):
        _page(world["client"], world["key"], email="hot@acme.test", path=path, at=now - timedelta(minutes=minutes))
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        _signal(conn, world["a"].organization_id, "hot@acme.test")

    evaluation, cursor = _evaluate(world, cursor)
    assert len(evaluation.run_requests) == 1
    result = _execute(world, evaluation.run_requests[0])
    metadata = {k: v.value for e in result.get_asset_materialization_events()
                if e.asset_key == dg.AssetKey(["freshness", "prospect_scores"])
                for k, v in e.materialization.metadata.items()}
    assert metadata["prospects"] == 1
    assert not result.get_asset_check_evaluations()  # dbt's data tests are the hourly and nightly builds' job

    after = _rows(database, ids.values())
    hot_before, hot_after = before[ids["a"]], after[ids["a"]]
    assert hot_after[0] > hot_before[0]  # intent score
    assert hot_after[2] != hot_before[2]  # lead score (priority_score)
    assert hot_after[4]["leadScore"]["inputsHash"] != hot_before[4]["leadScore"]["inputsHash"]
    # the rows of the other prospect and of the other organization (same e-mail address) are untouched
    for other in ("a_calm", "b", "b_calm"):
        assert after[ids[other]] == before[ids[other]], other

    # what the API serves is the new score
    response = world["client"].get(f"/api/v1/prospects/{ids['a']}", headers=world["a"].admin.headers)
    assert response.status_code == 200
    body = response.json()
    assert (body["intentScore"], body["priorityScore"]) == (hot_after[0], hot_after[2])

    # nothing new since: skipped, and the cursor stays at the table maxima
    again, cursor = _evaluate(world, cursor)
    assert not again.run_requests and "no score-moving" in again.skip_message
    world["cursor"] = cursor


def test_identify_calls_alone_do_not_start_a_run(world):
    cursor = world.get("cursor") or _evaluate(world, None)[1]
    _page(world["client"], world["key"], email="calm@acme.test", path="/", at=datetime.now(UTC), kind="identify")
    evaluation, moved = _evaluate(world, cursor)
    assert not evaluation.run_requests and "no score-moving" in evaluation.skip_message
    assert parse_cursor(moved)["website_events"] > parse_cursor(cursor)["website_events"]
    world["cursor"] = moved


def test_no_second_run_while_one_is_under_way_and_the_next_takes_everything(world):
    cursor = world.get("cursor") or _evaluate(world, None)[1]
    job = world["defs"].resolve_job_def("freshness_micro_batch")
    pending = world["instance"].create_run_for_job(job_def=job, run_config={})  # NOT_STARTED: under way
    _page(world["client"], world["key"], email="calm@acme.test", path="/pricing", at=datetime.now(UTC))
    blocked, unchanged = _evaluate(world, cursor)
    assert not blocked.run_requests and "under way" in blocked.skip_message and unchanged == cursor
    world["instance"].report_run_canceled(pending)
    _page(world["client"], world["key"], email="calm@acme.test", path="/demo", at=datetime.now(UTC))
    evaluation, _ = _evaluate(world, cursor)
    assert len(evaluation.run_requests) == 1
    config = evaluation.run_requests[0].run_config["ops"]["freshness__prospect_scores"]["config"]
    assert config["after"] == cursor  # one run from where the last one ended: both page views


def test_the_job_builds_the_intent_and_event_marts_without_tests_or_the_weekly_features():
    job = build_definitions().resolve_job_def("freshness_micro_batch")
    keys = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
    assert {"analytics/fct_prospect_intent", "analytics/fct_account_intent", "analytics/fct_email_events",
            "analytics/fct_website_sessions", "freshness/prospect_scores"} <= keys
    assert "analytics/ml_lead_features" not in keys and "ml/prospect_lead_scores" not in keys
    # exactly dbt's `freshness` selector: the intent chain and the event marts, no views or seeds to rebuild
    assert {k for k in keys if k.startswith("analytics/")} == {
        f"analytics/{name}" for name in ("fct_website_events", "fct_website_sessions", "fct_email_events",
                                         "int_intent__entity_signals", "int_intent__daily_points",
                                         "intent_score_history", "int_intent__entity_scores", "fct_prospect_intent",
                                         "fct_account_intent")}


def test_the_loop_evaluates_the_sensor_and_runs_the_job_in_its_own_process(world, tmp_path):
    from pipelines.defs.freshness.loop import tick

    instance = dg.DagsterInstance.local_temp(str(tmp_path))  # persistent runs, as the loop's instance
    cursor, results = tick(world["defs"], instance, None)
    assert cursor and not results
    _page(world["client"], world["key"], email="hot@acme.test", path="/pricing", at=datetime.now(UTC))
    cursor, results = tick(world["defs"], instance, cursor)
    assert len(results) == 1 and results[0].success
    assert instance.get_run_by_id(results[0].run_id).status == dg.DagsterRunStatus.SUCCESS
    metadata = {k: v.value for e in results[0].get_asset_materialization_events()
                if e.asset_key == dg.AssetKey(["freshness", "prospect_scores"])
                for k, v in e.materialization.metadata.items()}
    assert metadata["prospects"] == 1 and metadata["lead_scored"] == 1
    assert tick(world["defs"], instance, cursor)[1] == []  # nothing new: no run

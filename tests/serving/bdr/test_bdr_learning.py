"""The BDR agent learning, safely: no configuration sends without review until an admin accepted a backtest of its
exact settings, and the agent queues what it would have sent while that is missing; the backtest reports what
happened to prospects like the ones the policy picks; messaging variants are explored, then chosen by Thompson
sampling, and a winner is declared only with enough prospects behind every variant; replies the rules cannot place
are read by meaning; the Dagster batches queue the worker's jobs; tenancy holds for the new endpoints."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import dagster as dg
import numpy as np
from sqlalchemy import text

from pipelines.definitions import resources as pipeline_resources
from pipelines.defs.bdr.assets import bdr_discovery_runs, bdr_learning
from serving.activities.models import Activity
from serving.bdr import agent, learning
from serving.core.db import session_factory, set_tenant, tenant_session
from serving.emails import suppression
from tests.serving.bdr.test_bdr_agent import ALWAYS, MONDAY_NOON_UTC, URL, _decisions, _prospect

AUTO = {"enabled": True, "approvalMode": "auto_above_confidence",
        "settings": {"workingHours": ALWAYS, "confidenceThreshold": 0.5}}


def test_sending_without_review_needs_an_accepted_backtest_of_exactly_those_settings(client, tenant):
    refused = client.put(f"{URL}/config", json=AUTO, headers=tenant.admin.headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "BACKTEST_REQUIRED"
    assert client.get(f"{URL}/config", headers=tenant.user.headers).json()["enabled"] is False  # nothing saved

    report = client.post(f"{URL}/backtests", json={"days": 60, "settings": AUTO["settings"]},
                         headers=tenant.admin.headers)
    assert report.status_code == 201, report.text
    backtest = report.json()
    assert backtest["days"] == 60 and backtest["acceptedAt"] is None and backtest["current"] is False
    assert client.post(f"{URL}/backtests", headers=tenant.user.headers).status_code == 403  # admins only
    assert client.post(f"{URL}/backtests/{backtest['id']}/accept", headers=tenant.user.headers).status_code == 403
    accepted = client.post(f"{URL}/backtests/{backtest['id']}/accept", headers=tenant.admin.headers)
    assert accepted.status_code == 200 and accepted.json()["acceptedBy"] == str(tenant.admin.id)
    again = client.post(f"{URL}/backtests/{backtest['id']}/accept", headers=tenant.admin.headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "BACKTEST_ACCEPTED"

    saved = client.put(f"{URL}/config", json=AUTO, headers=tenant.admin.headers)
    assert saved.status_code == 200, saved.text
    listed = client.get(f"{URL}/backtests", headers=tenant.user.headers).json()
    assert listed["pagination"]["total"] == 1 and listed["data"][0]["current"] is True

    # any other policy is a new one: a lower threshold needs its own report
    riskier = {**AUTO, "settings": {**AUTO["settings"], "confidenceThreshold": 0.2}}
    refused = client.put(f"{URL}/config", json=riskier, headers=tenant.admin.headers)
    assert refused.status_code == 409 and refused.json()["error"]["details"]["settingsHash"] != backtest[
        "settingsHash"]
    # reviewing everything needs no backtest
    assert client.put(f"{URL}/config", json={**riskier, "approvalMode": "all"},
                      headers=tenant.admin.headers).status_code == 200


def test_a_configuration_saved_before_the_rule_queues_what_it_would_have_sent(client, tenant, owner_session):
    prospect = _prospect(client, tenant, owner_session)
    assert client.put(f"{URL}/config", json={**AUTO, "approvalMode": "all"},
                      headers=tenant.admin.headers).status_code == 200
    owner_session.execute(text("update app.bdr_agent_configs set approval_mode = 'auto_above_confidence' "
                               "where organization_id = :o"), {"o": tenant.organization_id})
    owner_session.commit()
    with tenant.session() as session, session.begin():
        set_tenant(session, tenant.organization_id)
        config = agent.get_config(db_session=session, organization_id=tenant.organization_id)
        result = agent.engage(db_session=session, settings=tenant.settings, config=config,
                              prospect_id=uuid.UUID(prospect["id"]), now=MONDAY_NOON_UTC)
    assert result.outcome == "queued" and "accepted backtest" in result.reason


def test_the_backtest_reports_what_happened_to_prospects_like_the_policys_picks(client, tenant, owner_session):
    now = datetime.now(UTC)
    hot = [_prospect(client, tenant, owner_session, tier="hot") for _ in range(4)]
    cold = [_prospect(client, tenant, owner_session, tier="low") for _ in range(4)]
    unsubscribed = _prospect(client, tenant, owner_session, tier="burning")
    with tenant.session() as session, session.begin():
        set_tenant(session, tenant.organization_id)
        suppression.unsubscribe(db_session=session, organization_id=tenant.organization_id,
                                address=unsubscribed["email"], source="manual")

    def history(prospect, *types, days_ago=10):
        for i, kind in enumerate(("email_sent", *types)):
            tenant.add(Activity, prospect_id=uuid.UUID(prospect["id"]), type=kind,
                       occurred_at=now - timedelta(days=days_ago) + timedelta(hours=i + 1))
    history(hot[0], "email_received", "meeting_scheduled")
    history(hot[1], "email_received")
    history(hot[2], "email_unsubscribed")
    history(hot[3], days_ago=200)  # e-mailed before the window: not counted
    for p in cold:
        history(p)  # e-mailed, nobody replied

    report = client.post(f"{URL}/backtests", json={"days": 90, "settings": {"discovery": {"minIntentTier": "hot"}}},
                         headers=tenant.admin.headers).json()["report"]
    picked = {s["prospectId"] for s in report["sample"]}
    assert {p["id"] for p in hot} <= picked and not picked & {p["id"] for p in cold}
    assert unsubscribed["id"] not in picked and report["prospectsSelected"] == 4  # suppressed addresses left out
    assert report["similarContacted"] == 3 and report["similarReplied"] == 2 and report["similarMeetings"] == 1
    assert report["similarUnsubscribed"] == 1 and report["expectedReplyRate"] == round(2 / 3, 4)
    assert report["expectedReplyRateLow"] < 2 / 3 < report["expectedReplyRateHigh"]
    assert report["baselineContacted"] == 7 and report["baselineReplyRate"] == round(2 / 7, 4)
    assert any("only 3 prospects like these" in r for r in report["risks"])
    assert any("unsubscribed" in r for r in report["risks"])


def test_wilson_interval_and_probability_best():
    assert learning.wilson(0, 0) == (None, None)
    low, high = learning.wilson(5, 100)
    assert 0.02 < low < 0.05 < high < 0.12
    assert learning.probability_best([(100, 30), (100, 10)])[0] > 0.99
    even = learning.probability_best([(50, 10), (50, 10)])
    assert abs(even[0] - 0.5) < 0.05 and even == learning.probability_best([(50, 10), (50, 10)])  # reproducible


def _plant(owner_session, tenant, variant_id: uuid.UUID, prospects: int, positive: int) -> None:
    """`prospects` prospects e-mailed with the variant, `positive` of them replying with interest."""
    owner_session.execute(text("""
        with new as (
          insert into app.prospects (id, organization_id, email, status)
          select gen_random_uuid(), :org, 'p' || g || '.' || cast(:tag as text) || '@bandit.example', 'contacted'
          from generate_series(1, :n) g returning id)
        , numbered as (select id, row_number() over (order by id) as n from new)
        , sent as (
          insert into app.bdr_activities (id, organization_id, prospect_id, kind, detail, occurred_at)
          select gen_random_uuid(), :org, id, 'email_sent', jsonb_build_object('variantId', cast(:variant as text)),
                 now() - interval '3 days' from numbered returning prospect_id)
        insert into app.bdr_activities (id, organization_id, prospect_id, kind, detail, occurred_at)
        select gen_random_uuid(), :org, id, 'reply_received', '{"label": "interested"}', now() - interval '1 day'
        from numbered where n <= :pos"""),
        {"org": tenant.organization_id, "tag": uuid.uuid4().hex[:6], "n": prospects, "variant": str(variant_id),
         "pos": positive})
    owner_session.commit()


def _variant(client, tenant, name: str, **body) -> dict:
    response = client.post(f"{URL}/variants", json={"name": name, **body}, headers=tenant.admin.headers)
    assert response.status_code == 201, response.text
    return response.json()


def _choose(tenant, prospect_id: uuid.UUID, seed: int = 7) -> tuple[str, str]:
    """(variant name, reason)."""
    with tenant.session() as session, session.begin():
        set_tenant(session, tenant.organization_id)
        choice = learning.choose_variant(db_session=session, organization_id=tenant.organization_id,
                                         prospect_id=prospect_id, rng=np.random.default_rng(seed))
        return choice.variant.name, choice.reason


def test_variants_are_explored_then_chosen_by_thompson_sampling_and_a_winner_needs_enough_sends(
        client, tenant, owner_session):
    a = _variant(client, tenant, "Pain first", tone="direct", instructions="Lead with the cost of slow onboarding.")
    b = _variant(client, tenant, "Social proof", instructions="Open with a customer result.")
    assert client.post(f"{URL}/variants", json={"name": "Pain first"}, headers=tenant.admin.headers).json()[
        "error"]["code"] == "VARIANT_EXISTS"
    assert client.post(f"{URL}/variants", json={"name": "x"}, headers=tenant.user.headers).status_code == 403

    # exploring: the least-tried variant goes next until each has MIN_EXPLORE prospects
    _plant(owner_session, tenant, uuid.UUID(a["id"]), learning.MIN_EXPLORE, 2)
    name, reason = _choose(tenant, uuid.uuid4())
    assert name == "Social proof" and reason.startswith("exploring")

    # both explored; B replies far better: Thompson sampling picks B nearly always, but no winner below MIN_WINNER
    _plant(owner_session, tenant, uuid.UUID(b["id"]), learning.MIN_EXPLORE, 12)
    picks = [_choose(tenant, uuid.uuid4(), seed)[0] for seed in range(30)]
    assert picks.count("Social proof") >= 27
    assert _choose(tenant, uuid.uuid4())[1].startswith("Thompson sampling")
    with tenant.session() as session, session.begin():
        set_tenant(session, tenant.organization_id)
        assert learning.declare_winner(db_session=session, organization_id=tenant.organization_id) is None

    listed = {v["name"]: v for v in client.get(f"{URL}/variants", headers=tenant.user.headers).json()["data"]}
    assert listed["Social proof"]["sends"] == 20 and listed["Social proof"]["positiveReplies"] == 12
    assert listed["Social proof"]["probabilityBest"] > 0.99 and listed["Social proof"]["winner"] is False

    _plant(owner_session, tenant, uuid.UUID(a["id"]), learning.MIN_WINNER - learning.MIN_EXPLORE, 8)
    _plant(owner_session, tenant, uuid.UUID(b["id"]), learning.MIN_WINNER - learning.MIN_EXPLORE, 40)
    with tenant.session() as session, session.begin():
        set_tenant(session, tenant.organization_id)
        winner = learning.declare_winner(db_session=session, organization_id=tenant.organization_id)
        assert winner is not None and winner.variant.name == "Social proof"
    assert _choose(tenant, uuid.uuid4())[1].endswith(f"declared the winner on {datetime.now(UTC):%Y-%m-%d}")
    listed = {v["name"]: v for v in client.get(f"{URL}/variants", headers=tenant.user.headers).json()["data"]}
    assert listed["Social proof"]["winner"] is True and listed["Pain first"]["winner"] is False

    # a variant with prospects keeps its wording; pausing takes it out of the draw
    changed = client.put(f"{URL}/variants/{a['id']}", json={"instructions": "Other words"},
                         headers=tenant.admin.headers)
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "VARIANT_IN_USE"
    paused = client.put(f"{URL}/variants/{a['id']}", json={"status": "paused"}, headers=tenant.admin.headers)
    assert paused.status_code == 200 and paused.json()["probabilityBest"] is None


def test_the_agent_writes_with_the_chosen_variant_and_credits_it_when_the_draft_is_approved(
        client, tenant, owner_session):
    prospect = _prospect(client, tenant, owner_session)
    knowledge = client.post("/api/v1/knowledge/sources", json={"title": "Why Relay", "text": (
        "Relay cuts onboarding time for field teams by 30 percent.")}, headers=tenant.user.headers)
    assert knowledge.status_code == 201
    variant = _variant(client, tenant, "Formal", tone="formal")
    assert client.put(f"{URL}/config", json={**AUTO, "approvalMode": "all"},
                      headers=tenant.admin.headers).status_code == 200
    run = client.post(f"{URL}/run", headers=tenant.admin.headers).json()
    assert run["queuedForApproval"] == [prospect["id"]]
    [entry] = client.get(f"{URL}/approvals", headers=tenant.user.headers).json()["data"]
    assert entry["variantId"] == variant["id"]
    draft = client.get(f"/api/v1/ai/emails/drafts/{entry['draftId']}", headers=tenant.user.headers).json()
    assert draft["body"].startswith("Dear Dana Reyes,")  # the variant's tone
    decision = next(d for d in _decisions(client, tenant, prospect["id"]) if d["step"] == "variant")
    assert decision["chosen"] == "Formal" and decision["reason"].startswith("exploring")
    assert client.post(f"{URL}/approvals/{entry['id']}/approve", headers=tenant.user.headers).status_code == 200
    [stats] = client.get(f"{URL}/variants", headers=tenant.user.headers).json()["data"]
    assert stats["sends"] == 1 and stats["replies"] == 0


def test_a_reply_the_rules_cannot_place_is_read_by_meaning(client, tenant, owner_session):
    prospect = _prospect(client, tenant, owner_session)
    assert client.put(f"{URL}/config", json={**AUTO, "approvalMode": "all"},
                      headers=tenant.admin.headers).status_code == 200
    assert agent.classify_reply(text="Kindly take me off your list.", today=MONDAY_NOON_UTC.date()).confidence < 0.8
    with tenant.session() as session, session.begin():
        set_tenant(session, tenant.organization_id)
        config = agent.get_config(db_session=session, organization_id=tenant.organization_id)
        outcome = agent.handle_reply(db_session=session, settings=tenant.settings, config=config,
                                     prospect_id=uuid.UUID(prospect["id"]), text="Kindly take me off your list.",
                                     now=MONDAY_NOON_UTC)
        later = agent.classify(db_session=session, settings=tenant.settings, config=config,
                               text="The timing is poor for us, maybe when the budget cycle starts again.", sender=None,
                               today=MONDAY_NOON_UTC.date())
    assert (outcome.classification.label, outcome.classification.method) == ("unsubscribe", "embeddings")
    assert outcome.action == "unsubscribe"
    with tenant.session() as session, session.begin():
        set_tenant(session, tenant.organization_id)
        assert suppression.suppressed(db_session=session, addresses=[prospect["email"]])
    assert (later.label, later.method) == ("not_now", "embeddings")
    reply = next(d for d in _decisions(client, tenant, prospect["id"]) if d["step"] == "reply")
    assert reply["inputs"]["method"] == "embeddings"


def test_the_dagster_batches_queue_the_workers_jobs_for_the_organizations_they_concern(
        client, tenant, other_tenant, database, owner_session, tmp_path):
    assert client.put(f"{URL}/config", json={**AUTO, "approvalMode": "all"},
                      headers=tenant.admin.headers).status_code == 200
    assert client.put(f"{URL}/config", json={**AUTO, "approvalMode": "all", "enabled": False},
                      headers=other_tenant.admin.headers).status_code == 200
    res = pipeline_resources(database_url=database, landing_url=str(tmp_path / "landing"),
                             revorc_home=str(tmp_path))
    result = dg.materialize([bdr_discovery_runs, bdr_learning], resources={"postgres": res["postgres"]},
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    jobs = owner_session.execute(text(
        "select task_name, args->>'organization_id' from procrastinate.procrastinate_jobs "
        "where task_name in ('bdr.run', 'bdr.learn') and status = 'todo' and args->>'organization_id' in (:a, :b)"),
        {"a": str(tenant.organization_id), "b": str(other_tenant.organization_id)}).all()
    assert sorted(jobs) == sorted([("bdr.run", str(tenant.organization_id)),
                                   ("bdr.learn", str(tenant.organization_id)),
                                   ("bdr.learn", str(other_tenant.organization_id))])  # the agent is off there


def test_the_learning_job_records_the_days_and_the_performance_series(client, tenant, owner_session):
    from serving.bdr import jobs
    from serving.core import queue

    _prospect(client, tenant, owner_session)
    assert client.put(f"{URL}/config", json={**AUTO, "approvalMode": "all"},
                      headers=tenant.admin.headers).status_code == 200
    client.post(f"{URL}/run", headers=tenant.admin.headers)
    queue.configure(tenant.settings)  # what the worker does at start
    try:
        assert jobs.learn(organization_id=str(tenant.organization_id)) == {"winner": None}
    finally:
        queue._runtime = None  # the next test's runtime comes from its own settings
    daily = client.get(f"{URL}/performance", headers=tenant.user.headers).json()["daily"]
    assert [d["day"] for d in daily][-1] == datetime.now(UTC).date().isoformat()
    assert {"contacted", "replies", "handoffs", "meetings"} <= set(daily[-1])


def test_tenancy_holds_for_the_learning_endpoints(client, tenant, other_tenant):
    variant = _variant(client, tenant, "Mine")
    backtest = client.post(f"{URL}/backtests", headers=tenant.admin.headers).json()
    o = other_tenant
    assert client.get(f"{URL}/variants", headers=o.user.headers).json()["data"] == []
    assert client.get(f"{URL}/backtests", headers=o.user.headers).json()["data"] == []
    assert client.put(f"{URL}/variants/{variant['id']}", json={"status": "paused"},
                      headers=o.admin.headers).status_code == 404
    assert client.post(f"{URL}/backtests/{backtest['id']}/accept", headers=o.admin.headers).status_code == 404
    assert client.post(f"{URL}/variants", json={"name": "Mine"}, headers=o.admin.headers).status_code == 201


# --- follow-ups ---------------------------------------------------------------------------------------------------

def _run(tenant, now: datetime):
    # as the worker runs it: the API's role, under row-level security
    with tenant_session(session_factory(tenant.settings.api_database_url), tenant.organization_id) as session:
        config = agent.get_config(db_session=session, organization_id=tenant.organization_id)
        _, _, results = agent.run(db_session=session, settings=tenant.settings, config=config, now=now)
        return [(str(r.prospect_id), r.outcome, r.reason) for r in results]


def _approve_all(client, tenant) -> None:
    for entry in client.get(f"{URL}/approvals?status=pending", headers=tenant.user.headers).json()["data"]:
        assert client.post(f"{URL}/approvals/{entry['id']}/approve", headers=tenant.user.headers).status_code == 200


def _approvals(client, tenant) -> list[dict]:
    return client.get(f"{URL}/approvals?status=pending", headers=tenant.user.headers).json()["data"]


def _sent_at(owner_session, tenant, prospect_id: str, when: datetime) -> None:
    """Move the agent's touches of a prospect to `when` (its sends happened through the API at the real time)."""
    owner_session.execute(text("update app.bdr_activities set occurred_at = :w where prospect_id = :p and "
                               "kind in ('email_sent', 'email_queued')"), {"w": when, "p": prospect_id})
    owner_session.commit()


def test_the_agent_follows_up_who_did_not_reply_within_the_caps_and_never_who_replied(
        client, tenant, owner_session):
    quiet = _prospect(client, tenant, owner_session)
    answered = _prospect(client, tenant, owner_session)
    settings = {"workingHours": ALWAYS, "caps": {"perDay": 50, "perProspect": 2, "minSpacingHours": 72}}
    assert client.put(f"{URL}/config", json={"enabled": True, "approvalMode": "all", "settings": settings},
                      headers=tenant.admin.headers).status_code == 200
    first = _run(tenant, MONDAY_NOON_UTC)
    assert sorted(p for p, outcome, _ in first if outcome == "queued") == sorted([quiet["id"], answered["id"]])
    _approve_all(client, tenant)
    for p in (quiet, answered):
        _sent_at(owner_session, tenant, p["id"], MONDAY_NOON_UTC)
    with tenant.session() as session, session.begin():
        set_tenant(session, tenant.organization_id)
        config = agent.get_config(db_session=session, organization_id=tenant.organization_id)
        agent.handle_reply(db_session=session, settings=tenant.settings, config=config,
                           prospect_id=uuid.UUID(answered["id"]), text="We're all set, thanks.",
                           now=MONDAY_NOON_UTC + timedelta(hours=1))

    assert _run(tenant, MONDAY_NOON_UTC + timedelta(hours=48)) == []  # inside the spacing: nobody is due
    due = _run(tenant, MONDAY_NOON_UTC + timedelta(hours=73))
    assert [(p, outcome) for p, outcome, _ in due] == [(quiet["id"], "queued")], due
    [entry] = _approvals(client, tenant)
    assert entry["purpose"] == "follow_up" and entry["prospectId"] == quiet["id"]
    assert _run(tenant, MONDAY_NOON_UTC + timedelta(hours=74)) == []  # a draft waits for review: not drafted twice
    _approve_all(client, tenant)
    _sent_at(owner_session, tenant, quiet["id"], MONDAY_NOON_UTC + timedelta(hours=73))
    assert _run(tenant, MONDAY_NOON_UTC + timedelta(days=30)) == []  # two touches: the per-prospect cap


def test_a_not_now_date_is_followed_up_on_that_day_once(client, tenant, owner_session):
    prospect = _prospect(client, tenant, owner_session)
    assert client.put(f"{URL}/config", json={"enabled": True, "approvalMode": "all",
                                             "settings": {"workingHours": ALWAYS}},
                      headers=tenant.admin.headers).status_code == 200
    _run(tenant, MONDAY_NOON_UTC)
    _approve_all(client, tenant)
    with tenant.session() as session, session.begin():
        set_tenant(session, tenant.organization_id)
        config = agent.get_config(db_session=session, organization_id=tenant.organization_id)
        outcome = agent.handle_reply(db_session=session, settings=tenant.settings, config=config,
                                     prospect_id=uuid.UUID(prospect["id"]),
                                     text="Not right now, reach out again in two weeks.", now=MONDAY_NOON_UTC)
    assert outcome.action == "reschedule"
    assert _run(tenant, MONDAY_NOON_UTC + timedelta(days=13)) == []
    due = _run(tenant, MONDAY_NOON_UTC + timedelta(days=14))
    assert [(p, o) for p, o, _ in due] == [(prospect["id"], "queued")]
    assert _approvals(client, tenant)[0]["purpose"] == "scheduled_follow_up"
    _approve_all(client, tenant)
    assert _run(tenant, MONDAY_NOON_UTC + timedelta(days=20)) == []  # once
    task = owner_session.execute(text("select result from app.bdr_tasks where prospect_id = :p and step = "
                                      "'follow_up'"), {"p": prospect["id"]}).scalar_one()
    assert task["due"] == "2026-12-21" and task["outcome"] == "queued"


def test_follow_ups_through_a_cadence(client, tenant, owner_session):
    prospect = _prospect(client, tenant, owner_session)
    bad = {"enabled": True, "approvalMode": "all",
           "settings": {"workingHours": ALWAYS, "followUp": {"mode": "cadence", "cadenceId": str(uuid.uuid4())}}}
    refused = client.put(f"{URL}/config", json=bad, headers=tenant.admin.headers)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "CADENCE_NOT_FOUND"
    missing = {**bad, "settings": {"followUp": {"mode": "cadence"}}}
    assert client.put(f"{URL}/config", json=missing, headers=tenant.admin.headers).status_code == 422
    cadence = client.post("/api/v1/cadences", headers=tenant.user.headers, json={
        "name": "BDR follow-ups", "steps": [{"type": "email", "delayDays": 3, "subject": "Following up",
                                             "content": "Hi {{firstName}}, any thoughts?"}]}).json()
    bad["settings"]["followUp"]["cadenceId"] = cadence["id"]
    assert client.put(f"{URL}/config", json=bad, headers=tenant.admin.headers).status_code == 200
    _run(tenant, MONDAY_NOON_UTC)
    _approve_all(client, tenant)
    enrolled = client.get(f"/api/v1/cadences/{cadence['id']}/enrollments", headers=tenant.user.headers).json()
    assert [e["prospectId"] for e in enrolled["data"]] == [prospect["id"]]
    decision = next(d for d in _decisions(client, tenant, prospect["id"]) if d["step"] == "follow_up")
    assert decision["chosen"] == "enroll_in_cadence" and "BDR follow-ups" in decision["reason"]
    _sent_at(owner_session, tenant, prospect["id"], MONDAY_NOON_UTC)
    assert _run(tenant, MONDAY_NOON_UTC + timedelta(days=10)) == []  # the cadence follows up, not the agent


def test_the_scheduled_run_fans_out_one_worker_job_per_prospect_each_safe_to_repeat(client, tenant, owner_session):
    from serving.bdr import jobs
    from serving.core import queue

    first = _prospect(client, tenant, owner_session, tier="burning")
    second = _prospect(client, tenant, owner_session, tier="hot")
    assert client.put(f"{URL}/config", json={"enabled": True, "approvalMode": "all",
                                             "settings": {"workingHours": ALWAYS}},
                      headers=tenant.admin.headers).status_code == 200
    queue.configure(tenant.settings)  # what the worker does at start
    try:
        planned = jobs.run_agent(organization_id=str(tenant.organization_id))
        assert planned["picked"] == 2 and planned["steps"] == 2
        queued = owner_session.execute(text(
            "select args from procrastinate.procrastinate_jobs where task_name = 'bdr.step' and status = 'todo' "
            "and args->>'organization_id' = :o"), {"o": str(tenant.organization_id)}).scalars().all()
        assert sorted(a["prospect_id"] for a in queued) == sorted([first["id"], second["id"]])
        assert {a["purpose"] for a in queued} == {"first_touch"}
        # nothing is drafted until the step jobs run; each runs alone, and a repeat (a retry) does nothing new
        assert _approvals(client, tenant) == []
        done = [jobs.run_step(**args) for args in queued]
        assert [d["outcome"] for d in done] == ["queued", "queued"]
        # the repeat is held by the spacing the first touch started (or finds its step key taken): no new draft
        assert jobs.run_step(**queued[0])["outcome"] in ("held", "done_before")
    finally:
        queue._runtime = None  # the next test's runtime comes from its own settings
    assert len(_approvals(client, tenant)) == 2


def test_research_remembers_the_prospects_own_intent_signals_and_visits_only(client, tenant, other_tenant,
                                                                             owner_session):
    from serving.accounts.models import Account

    prospect = _prospect(client, tenant, owner_session)
    account = tenant.add(Account, name="Acme Robotics", domain="acme-robotics.example")
    owner_session.execute(text("update app.prospects set account_id = :a where id = :p"),
                          {"a": account.id, "p": prospect["id"]})
    rows = [(tenant.organization_id, "funding", None, "acme-robotics.example", "Series B"),
            (tenant.organization_id, "job_posting", prospect["email"], None, "hiring RevOps"),
            (other_tenant.organization_id, "news", prospect["email"], None, "another org's signal")]
    for org, kind, email, domain, topic in rows:
        owner_session.execute(text(
            "insert into raw.intent_signals (organization_id, signal_type, prospect_email, account_domain, topic, "
            "strength, occurred_at, source) values (:o, :k, :e, :d, :t, 1, now() - interval '2 days', 'test')"),
            {"o": org, "k": kind, "e": email, "d": domain, "t": topic})
    owner_session.execute(text(
        "insert into raw.website_events (organization_id, message_id, type, email, path, title, occurred_at, source) "
        "values (:o, :m, 'page', upper(:e), '/pricing', 'Pricing', now() - interval '1 day', 'test')"),
        {"o": tenant.organization_id, "m": uuid.uuid4().hex, "e": prospect["email"]})
    owner_session.commit()
    assert client.put(f"{URL}/config", json={**AUTO, "approvalMode": "all"},
                      headers=tenant.admin.headers).status_code == 200
    with tenant_session(session_factory(tenant.settings.api_database_url), tenant.organization_id) as session:
        config = agent.get_config(db_session=session, organization_id=tenant.organization_id)
        agent.research(db_session=session, settings=tenant.settings, config=config,
                       prospect_id=uuid.UUID(prospect["id"]))
        remembered = {m.fact: m.source for m in agent.memory(db_session=session,
                                                             prospect_id=uuid.UUID(prospect["id"]))}
    assert "intent.funding: Series B at acme-robotics.example" in remembered
    assert "intent.job_posting: hiring RevOps" in remembered
    assert remembered["website.visit: /pricing — Pricing"].startswith("website_events#")
    assert not [f for f in remembered if "another org" in f]

"""The seed's flat configuration works as published: the usage example is accepted as it is, read back in both
shapes, and each of its fields does what it says — the intent score threshold, discovery on/off and its daily
allowance, the qualification thresholds, the schedule's interval; a partial PUT changes only what it names."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from serving.bdr import agent, jobs
from serving.core import queue
from serving.core.db import session_factory, tenant_session
from tests.serving.bdr.test_bdr_agent import MONDAY_NOON_UTC, URL, _decisions, _prospect

# the seed's usage example (section 3.1), as a client written against it sends it
SEED_EXAMPLE = {
    "isActive": True, "autoApproveMessages": False, "maxDailyTouches": 50, "maxTouchesPerProspect": 5,
    "minDelayBetweenTouchesHours": 48, "discoveryEnabled": True, "minIntentScore": 60,
    "qualificationFramework": "BANT", "handoffThreshold": 80,
    "workingHours": {"timezone": "America/New_York", "startHour": 9, "endHour": 17, "days": [1, 2, 3, 4, 5]},
}
ALWAYS_SEED = {"timezone": "UTC", "startHour": 0, "endHour": 24, "days": [0, 1, 2, 3, 4, 5, 6]}


def _put(client, tenant, body, status=200) -> dict:
    response = client.put(f"{URL}/config", json=body, headers=tenant.admin.headers)
    assert response.status_code == status, response.text
    return response.json()


def _run(tenant, now=MONDAY_NOON_UTC):
    with tenant_session(session_factory(tenant.settings.api_database_url), tenant.organization_id) as session:
        config = agent.get_config(db_session=session, organization_id=tenant.organization_id)
        _, found, results = agent.run(db_session=session, settings=tenant.settings, config=config, now=now)
        return found.picked, [r.outcome for r in results]


def test_the_seeds_usage_example_is_accepted_and_read_back_in_both_shapes(client, tenant):
    saved = _put(client, tenant, SEED_EXAMPLE)
    assert saved["isActive"] is True and saved["enabled"] is True
    assert saved["autoApproveMessages"] is False and saved["requireHumanReview"] is True
    assert saved["approvalMode"] == "all"
    assert (saved["maxDailyTouches"], saved["maxTouchesPerProspect"], saved["minDelayBetweenTouchesHours"]) == (
        50, 5, 48)
    assert saved["settings"]["caps"] == {"perDay": 50, "perProspect": 5, "minSpacingHours": 48}
    assert saved["minIntentScore"] == 60 and saved["settings"]["discovery"]["minIntentTier"] == "low"
    assert saved["qualificationFramework"] == "BANT" and saved["handoffThreshold"] == 80
    # Mon-Fri as the seed writes it (0 = Sunday), Monday = 0 in the nested settings
    assert saved["workingHours"] == {"timezone": "America/New_York", "startHour": 9, "endHour": 17,
                                     "days": [1, 2, 3, 4, 5]}
    assert saved["settings"]["workingHours"]["days"] == [0, 1, 2, 3, 4]
    assert saved["settings"]["workingHours"]["defaultTimezone"] == "America/New_York"
    assert saved["preferredChannels"] == ["email"] and saved["discoveryIntervalMinutes"] == 60

    # a partial PUT in the flat shape changes only what it names
    changed = _put(client, tenant, {"maxDailyTouches": 20, "agentName": "Ava"})
    assert changed["maxDailyTouches"] == 20 and changed["agentName"] == "Ava"
    assert changed["minIntentScore"] == 60 and changed["workingHours"]["days"] == [1, 2, 3, 4, 5]
    assert client.get(f"{URL}/config", headers=tenant.user.headers).json()["maxDailyTouches"] == 20


def test_flat_fields_are_validated_and_auto_approval_still_needs_a_backtest(client, tenant):
    for body, field in (({"preferredChannels": ["linkedin"]}, "preferredChannels"),
                        ({"workingHours": {"days": [7]}}, "days"), ({"minIntentScore": 101}, "minIntentScore"),
                        ({"isActive": "yes please"}, "isActive")):
        refused = client.put(f"{URL}/config", json=body, headers=tenant.admin.headers)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["error"]["code"] == "VALIDATION_ERROR" and field in refused.text
    refused = client.put(f"{URL}/config", json={"autoApproveMessages": True}, headers=tenant.admin.headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "BACKTEST_REQUIRED"
    assert client.put(f"{URL}/config", json={"isActive": True}, headers=tenant.user.headers).status_code == 403


def test_the_intent_score_threshold_and_the_days_allowance_pick_prospects(client, tenant, owner_session):
    strong = _prospect(client, tenant, owner_session, tier="low", score=72)
    also = _prospect(client, tenant, owner_session, tier="warm", score=65)
    weak = _prospect(client, tenant, owner_session, tier="burning", score=40)
    _put(client, tenant, {**SEED_EXAMPLE, "workingHours": ALWAYS_SEED, "discoveryEnabled": False})
    assert _run(tenant) == ([], [])  # discovery off: nobody new

    _put(client, tenant, {"discoveryEnabled": True, "maxNewProspectsPerDay": 1})
    picked, outcomes = _run(tenant)
    assert [str(p) for p in picked] == [strong["id"]] and outcomes == ["queued"]  # the highest score, one a day
    picked, _ = _run(tenant)
    assert picked == []
    day_cap = [d for d in client.get(f"{URL}/tasks", headers=tenant.user.headers).json()["data"]]
    assert len(day_cap) == 1
    _put(client, tenant, {"maxNewProspectsPerDay": 10})
    picked, _ = _run(tenant)
    assert [str(p) for p in picked] == [also["id"]]  # 65 ≥ 60; the burning prospect's 40 is below the score
    assert weak["id"] not in {str(p) for p in picked}


def test_the_handoff_and_auto_qualify_thresholds(client, tenant, owner_session):
    prospect = _prospect(client, tenant, owner_session)
    _put(client, tenant, {**SEED_EXAMPLE, "workingHours": ALWAYS_SEED, "handoffThreshold": 50,
                          "autoQualifyThreshold": 25})
    with tenant_session(session_factory(tenant.settings.api_database_url), tenant.organization_id) as session:
        config = agent.get_config(db_session=session, organization_id=tenant.organization_id)
        outcome = agent.handle_reply(db_session=session, settings=tenant.settings, config=config,
                                     prospect_id=uuid.UUID(prospect["id"]),
                                     text="Interested - we need faster onboarding.", now=MONDAY_NOON_UTC)
    assert outcome.action == "qualify" and outcome.handoff_id is None  # need alone: BANT 25 < 50
    reasons = [d["reason"] for d in _decisions(client, tenant, prospect["id"]) if d["step"] == "qualify"]
    assert any("score 25" in r and "needs a score of 50" in r for r in reasons)
    assert any("auto-qualify threshold 25" in r for r in reasons)
    status = owner_session.execute(text("select status from app.prospects where id = :id"),
                                   {"id": prospect["id"]}).scalar_one()
    assert status == "qualified"

    with tenant_session(session_factory(tenant.settings.api_database_url), tenant.organization_id) as session:
        config = agent.get_config(db_session=session, organization_id=tenant.organization_id)
        outcome = agent.handle_reply(db_session=session, settings=tenant.settings, config=config,
                                     prospect_id=uuid.UUID(prospect["id"]),
                                     text="Still interested: I run the team and we have budget for this quarter.",
                                     now=MONDAY_NOON_UTC)
    assert outcome.handoff_id is not None  # need, authority, budget, timeline: 100


def test_the_scheduled_run_keeps_the_organizations_interval(client, tenant):
    _put(client, tenant, {**SEED_EXAMPLE, "workingHours": ALWAYS_SEED, "discoveryIntervalMinutes": 240})
    queue.configure(tenant.settings)  # what the worker does at start
    try:
        first = jobs.run_agent(organization_id=str(tenant.organization_id))
        second = jobs.run_agent(organization_id=str(tenant.organization_id))
    finally:
        queue._runtime = None
    assert "executionId" in first and "the interval is 240 minutes" in second["skipped"]

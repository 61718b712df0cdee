"""The BDR agent end to end on a tenant with no AI keys: discovery picks the high-intent prospects and skips the
suppressed and the human-owned ones (with reasons); drafts pass the checker and wait for approval; approval sends
through the outbox; an "interested" reply is qualified and handed off with a `bdr.handoff_ready` event; an
"unsubscribe" reply suppresses; caps and working hours hold on a frozen clock; the decision log explains each
step; tenancy holds for every endpoint."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from serving.bdr import agent
from serving.core.db import set_tenant
from serving.deals.models import Deal, DealContact
from serving.emails import suppression

URL = "/api/v1/bdr"
VALUE = ("Relay cuts onboarding time for field teams by 30 percent, so new technicians are productive in their "
         "first week.")
ALWAYS = {"startHour": 0, "endHour": 24, "days": [0, 1, 2, 3, 4, 5, 6]}  # API runs use the real clock
MONDAY_NOON_UTC = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # 07:00 in New York


def _prospect(client, tenant, owner_session, *, tier: str | None = "hot", score: int = 80,
              tz: str | None = None, **fields) -> dict:
    body = {"email": f"dana.{uuid.uuid4().hex[:8]}@acme-robotics.example", "firstName": "Dana",
            "lastName": "Reyes", "title": "VP of Operations", "company": "Acme Robotics", **fields}
    response = client.post("/api/v1/prospects", json=body, headers=tenant.user.headers)
    assert response.status_code == 201, response.text
    owner_session.execute(text("update app.prospects set intent_tier = :tier, intent_score = :score, "
                               "timezone = :tz where id = :id"),
                          {"tier": tier, "score": score, "tz": tz, "id": response.json()["id"]})
    owner_session.commit()
    return response.json()


def _configure(client, tenant, *, mode: str = "all", **settings) -> dict:
    """Save the configuration; one that sends without review is first backtested and its report accepted (the
    API refuses it otherwise: tests/serving/bdr/test_bdr_learning.py)."""
    body = {"enabled": True, "approvalMode": mode,
            "settings": {"workingHours": ALWAYS, **settings}}
    unreviewed = mode != "all" or any(s.get("requireApproval") is False for s in settings.get("workflow", []))
    if unreviewed:
        report = client.post(f"{URL}/backtests", json={"settings": body["settings"]}, headers=tenant.admin.headers)
        assert report.status_code == 201, report.text
        accepted = client.post(f"{URL}/backtests/{report.json()['id']}/accept", headers=tenant.admin.headers)
        assert accepted.status_code == 200, accepted.text
    response = client.put(f"{URL}/config", json=body, headers=tenant.admin.headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def bdr_tenant(client, tenant):
    added = client.post("/api/v1/knowledge/sources", json={"title": "Why Relay", "text": VALUE},
                        headers=tenant.user.headers)
    assert added.status_code == 201, added.text
    return tenant


def _decisions(client, tenant, prospect_id) -> list[dict]:
    response = client.get(f"{URL}/prospects/{prospect_id}/decisions", headers=tenant.user.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _reply(tenant, prospect_id, reply: str, *, now: datetime | None = None) -> agent.ReplyOutcome:
    with tenant.session() as session, session.begin():
        set_tenant(session, tenant.organization_id)
        config = agent.get_config(db_session=session, organization_id=tenant.organization_id)
        return agent.handle_reply(db_session=session, settings=tenant.settings, config=config,
                                  prospect_id=uuid.UUID(prospect_id), text=reply, now=now)


def test_discovery_picks_high_intent_skips_suppressed_and_owned_and_drafts_wait_for_approval(
        client, bdr_tenant, owner_session):
    t = bdr_tenant
    hot = _prospect(client, t, owner_session, tier="burning", score=95)
    warm = _prospect(client, t, owner_session, tier="warm")  # below the minimum tier: not a candidate
    unsubscribed = _prospect(client, t, owner_session, tier="hot")
    in_deal = _prospect(client, t, owner_session, tier="hot")
    with t.session() as session, session.begin():
        set_tenant(session, t.organization_id)
        suppression.unsubscribe(db_session=session, organization_id=t.organization_id,
                                address=unsubscribed["email"], source="manual")
    deal = t.add(Deal, name="Acme expansion", owner_id=t.user.id, stage="proposal")
    t.add(DealContact, deal_id=deal.id, prospect_id=uuid.UUID(in_deal["id"]))
    _configure(client, t, discovery={"minIntentTier": "hot"})

    run = client.post(f"{URL}/run", headers=t.admin.headers)
    assert run.status_code == 200, run.text
    result = run.json()
    assert result["discovered"] == [hot["id"]] and result["queuedForApproval"] == [hot["id"]]
    assert result["sent"] == [] and result["skipped"] == 2

    skips = {p["id"]: _decisions(client, t, p["id"]) for p in (unsubscribed, in_deal, warm)}
    assert skips[unsubscribed["id"]][0]["chosen"] == "skip" and "suppressed" in skips[unsubscribed["id"]][0]["reason"]
    assert skips[in_deal["id"]][0]["chosen"] == "skip" and "open deal" in skips[in_deal["id"]][0]["reason"]
    assert skips[warm["id"]] == []  # never a candidate

    approvals = client.get(f"{URL}/approvals", headers=t.user.headers).json()
    assert approvals["pagination"]["total"] == 1
    [entry] = approvals["data"]
    draft = client.get(f"/api/v1/ai/emails/drafts/{entry['draftId']}", headers=t.user.headers).json()
    assert draft["check"]["passed"] and draft["status"] == "draft" and draft["provider"] == "offline"
    assert draft["toEmail"] == hot["email"]
    memory = owner_session.execute(text("select source, as_of from app.bdr_context_memory where prospect_id = :p"),
                                   {"p": hot["id"]}).all()
    assert {s.split("#")[0] for s, _ in memory} >= {"prospects", "knowledge_documents"}
    assert all(as_of is not None for _, as_of in memory)

    # running again picks nobody new and drafts nothing twice
    again = client.post(f"{URL}/run", headers=t.admin.headers).json()
    assert again["discovered"] == [] and client.get(f"{URL}/approvals", headers=t.user.headers).json()[
        "pagination"]["total"] == 1

    # edit-then-approve sends the edited text through the outbox
    edited_body = draft["body"].replace("Hi Dana,", "Hi Dana,\n\nThanks for looking at Relay.")
    approved = client.post(f"{URL}/approvals/{entry['id']}/approve", json={"body": edited_body},
                           headers=t.user.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "sent" and approved.json()["decidedBy"] == str(t.user.id)
    email = owner_session.execute(text("select text, status from app.emails where id = :id"),
                                  {"id": approved.json()["emailId"]}).one()
    assert email.status == "queued" and "Thanks for looking at Relay." in email.text
    assert client.post(f"{URL}/approvals/{entry['id']}/approve", headers=t.user.headers).status_code == 409

    steps = [(d["step"], d["chosen"]) for d in _decisions(client, t, hot["id"])]
    assert steps == [("discover", "pick"), ("research", "remember"), ("engage", "queue_for_approval"),
                     ("approval", "send")]
    why = _decisions(client, t, hot["id"])
    assert "burning" in why[0]["reason"] and "every message is reviewed" in why[2]["reason"]
    perf = client.get(f"{URL}/performance", headers=t.user.headers).json()
    assert perf["leadsContacted"] == 1 and perf["pendingApprovals"] == 0


def test_reject_keeps_the_reason_and_the_draft_is_not_sent(client, bdr_tenant, owner_session):
    t = bdr_tenant
    prospect = _prospect(client, t, owner_session)
    _configure(client, t)
    client.post(f"{URL}/run", headers=t.admin.headers)
    [entry] = client.get(f"{URL}/approvals", headers=t.user.headers).json()["data"]
    assert client.post(f"{URL}/approvals/{entry['id']}/reject", json={}, headers=t.user.headers).status_code == 422
    rejected = client.post(f"{URL}/approvals/{entry['id']}/reject", json={"reason": "too generic"},
                           headers=t.user.headers)
    assert rejected.status_code == 200 and rejected.json()["reason"] == "too generic"
    draft = client.get(f"/api/v1/ai/emails/drafts/{entry['draftId']}", headers=t.user.headers).json()
    assert draft["status"] == "rejected" and draft["emailId"] is None
    assert _decisions(client, t, prospect["id"])[-1]["reason"] == "too generic"


def test_an_interested_reply_is_qualified_and_handed_off_with_an_event(client, bdr_tenant, owner_session):
    t = bdr_tenant
    prospect = _prospect(client, t, owner_session)
    _configure(client, t, qualification={"framework": "BANT", "required": ["need", "timeline"]})
    client.post(f"{URL}/run", headers=t.admin.headers)

    outcome = _reply(t, prospect["id"], "Interested! We struggle with slow onboarding and need to fix it this "
                                        "quarter. Our budget is set.")
    assert outcome.classification.label == "interested" and outcome.handoff_id is not None
    [handoff] = client.get(f"{URL}/handoffs", headers=t.user.headers).json()["data"]
    assert handoff["id"] == str(outcome.handoff_id) and handoff["toUserId"] == str(t.user.id)  # the owner
    assert handoff["framework"] == "BANT" and handoff["status"] == "pending"
    assert handoff["qualification"]["need"]["met"] and handoff["qualification"]["timeline"]["met"]
    assert "this quarter" in handoff["qualification"]["timeline"]["evidence"][0]["text"]
    assert any(c["kind"] == "reply_received" for c in handoff["conversation"])
    event = owner_session.execute(text("select payload from app.domain_events where type = 'bdr.handoff_ready' "
                                       "and subject_id = :p"), {"p": prospect["id"]}).scalar_one()
    assert event["handoffId"] == handoff["id"] and "timeline" in event["criteriaMet"]

    accepted = client.post(f"{URL}/handoffs/{handoff['id']}/accept", headers=t.user.headers)
    assert accepted.status_code == 200 and accepted.json()["acceptedBy"] == str(t.user.id)
    assert client.post(f"{URL}/handoffs/{handoff['id']}/accept", headers=t.user.headers).status_code == 409
    steps = [(d["step"], d["chosen"]) for d in _decisions(client, t, prospect["id"])]
    assert steps[-3:] == [("reply", "qualify"), ("qualify", "qualified"), ("handoff", "hand_off")]


def test_interest_without_the_required_evidence_is_not_handed_off(client, bdr_tenant, owner_session):
    t = bdr_tenant
    prospect = _prospect(client, t, owner_session)
    _configure(client, t, qualification={"framework": "MEDDIC", "required": ["metrics", "champion"]})
    outcome = _reply(t, prospect["id"], "Sounds good, interested.")
    assert outcome.action == "qualify" and outcome.handoff_id is None
    last = _decisions(client, t, prospect["id"])[-1]
    assert last["chosen"] == "not_yet" and "missing ['metrics', 'champion']" in last["reason"]
    assert client.get(f"{URL}/handoffs", headers=t.user.headers).json()["data"] == []


def test_an_unsubscribe_reply_suppresses_and_discovery_then_skips(client, bdr_tenant, owner_session):
    t = bdr_tenant
    prospect = _prospect(client, t, owner_session)
    _configure(client, t)
    outcome = _reply(t, prospect["id"], "Please unsubscribe me from these emails. I'm interested in nothing.")
    assert outcome.classification.label == "unsubscribe" and outcome.action == "unsubscribe"
    with t.session() as session, session.begin():
        set_tenant(session, t.organization_id)
        assert suppression.is_suppressed(db_session=session, address=prospect["email"]) is not None
    client.post(f"{URL}/run", headers=t.admin.headers)
    assert _decisions(client, t, prospect["id"])[-1]["chosen"] == "skip"


def test_a_referral_creates_the_prospect_and_a_question_gets_an_answer_for_approval(client, bdr_tenant,
                                                                                   owner_session):
    t = bdr_tenant
    prospect = _prospect(client, t, owner_session)
    _configure(client, t)
    referred = _reply(t, prospect["id"], "Not my area - please reach out to sam.lee@acme-robotics.example.")
    assert referred.classification.label == "referral" and referred.referred_prospect_id is not None
    created = client.get(f"/api/v1/prospects/{referred.referred_prospect_id}", headers=t.user.headers).json()
    assert created["email"] == "sam.lee@acme-robotics.example" and created["company"] == "Acme Robotics"

    asked = _reply(t, prospect["id"], "How long does onboarding take with Relay?")
    assert asked.classification.label == "question" and asked.approval_id is not None
    [entry] = client.get(f"{URL}/approvals", headers=t.user.headers).json()["data"]
    assert entry["purpose"] == "answer"


@pytest.mark.parametrize(("reply", "label", "until"), [
    ("I'm out of the office until 2026-12-20 with limited access.", "out_of_office", date(2026, 12, 20)),
    ("Not right now - check back in two weeks.", "not_now", date(2026, 12, 21)),
    ("Not now, maybe circle back on March 3.", "not_now", date(2027, 3, 3)),
    ("No thanks, not interested.", "not_interested", None),
    ("STOP emailing me, remove me from your list", "unsubscribe", None),
    ("Yes, let's set up a call next week.", "interested", None),
    ("Does it integrate with SAP?", "question", None),
])
def test_replies_are_classified_offline_with_their_dates(reply, label, until):
    result = agent.classify_reply(text=reply, today=date(2026, 12, 7))
    assert (result.label, result.until) == (label, until)


def test_a_not_now_reply_reschedules_and_logs_the_date(client, bdr_tenant, owner_session):
    t = bdr_tenant
    prospect = _prospect(client, t, owner_session)
    _configure(client, t)
    outcome = _reply(t, prospect["id"], "Not right now, reach out in 2 months.", now=MONDAY_NOON_UTC)
    assert outcome.action == "reschedule"
    last = _decisions(client, t, prospect["id"])[-1]
    assert last["inputs"]["until"] == "2027-02-05" and "follow up on 2027-02-05" in last["reason"]


def _engage(t, prospect_id, now):
    with t.session() as session, session.begin():
        set_tenant(session, t.organization_id)
        config = agent.get_config(db_session=session, organization_id=t.organization_id)
        return agent.engage(db_session=session, settings=t.settings, config=config,
                            prospect_id=uuid.UUID(prospect_id), now=now)


def test_working_hours_in_the_prospects_zone_caps_and_spacing_hold(client, bdr_tenant, owner_session):
    t = bdr_tenant
    ny = _prospect(client, t, owner_session, tz="America/New_York")
    other = _prospect(client, t, owner_session, tz="Europe/Berlin")
    _configure(client, t, mode="auto_above_confidence", confidenceThreshold=0,
               workingHours={"startHour": 9, "endHour": 17, "days": [0, 1, 2, 3, 4]},
               caps={"perDay": 1, "perProspect": 2, "minSpacingHours": 48})

    early = _engage(t, ny["id"], MONDAY_NOON_UTC)  # 07:00 in New York
    assert early.outcome == "held" and "outside working hours in America/New_York" in early.reason
    sent = _engage(t, ny["id"], MONDAY_NOON_UTC + timedelta(hours=3))  # 10:00 in New York
    assert sent.outcome == "sent" and sent.email_id is not None
    assert owner_session.execute(text("select count(*) from app.emails where id = :id"),
                                 {"id": sent.email_id}).scalar_one() == 1
    capped = _engage(t, other["id"], MONDAY_NOON_UTC + timedelta(hours=3))  # 16:00 in Berlin, but the cap
    assert capped.outcome == "held" and "daily cap" in capped.reason
    # the next day the cap is free again, but the New York prospect is inside the minimum spacing
    spaced = _engage(t, ny["id"], MONDAY_NOON_UTC + timedelta(hours=28))
    assert spaced.outcome == "held" and "minimum spacing is 48 hours" in spaced.reason
    weekend = _engage(t, other["id"], datetime(2026, 12, 12, 10, 0, tzinfo=UTC))  # Saturday
    assert weekend.outcome == "held" and "outside working hours" in weekend.reason
    holds = [d for d in _decisions(client, t, ny["id"]) if d["chosen"] == "hold"]
    assert len(holds) == 2 and all(d["step"] == "engage" for d in holds)


def test_config_is_validated_admin_only_and_defaults_before_saving(client, bdr_tenant):
    t = bdr_tenant
    fresh = client.get(f"{URL}/config", headers=t.viewer.headers)
    assert fresh.status_code == 200 and fresh.json()["enabled"] is False
    assert fresh.json()["settings"]["qualification"]["framework"] == "BANT"
    assert client.put(f"{URL}/config", json={"enabled": True}, headers=t.user.headers).status_code == 403
    assert client.post(f"{URL}/run", headers=t.admin.headers).json()["error"]["code"] == "BDR_NOT_CONFIGURED"
    bad = [{"settings": {"qualification": {"framework": "CHAMP", "required": ["budget"]}}},
           {"settings": {"workflow": [{"kind": "send"}, {"kind": "research"}]}},
           {"settings": {"workingHours": {"startHour": 18, "endHour": 9}}},
           {"settings": {"workingHours": {"defaultTimezone": "Mars/Olympus"}}},
           {"approvalMode": "sometimes"}]
    for body in bad:
        response = client.put(f"{URL}/config", json=body, headers=t.admin.headers)
        assert response.status_code == 422 and response.json()["success"] is False, body
    workflow = [{"kind": "research"}, {"kind": "qualify", "framework": "MEDDIC"},
                {"kind": "personalize", "tone": "formal"}, {"kind": "send", "requireApproval": True}]
    saved = client.put(f"{URL}/config", json={"enabled": True, "settings": {"workflow": workflow}},
                       headers=t.admin.headers)
    assert saved.status_code == 200 and saved.json()["settings"]["workflow"][1]["framework"] == "MEDDIC"
    assert saved.json()["actingUserId"] == str(t.admin.id)


def test_tenancy_holds_for_every_bdr_endpoint(client, bdr_tenant, other_tenant, owner_session):
    t = bdr_tenant
    prospect = _prospect(client, t, owner_session)
    _configure(client, t)
    client.post(f"{URL}/run", headers=t.admin.headers)
    [entry] = client.get(f"{URL}/approvals", headers=t.user.headers).json()["data"]
    handoff = _reply(t, prospect["id"], "Interested - we need faster onboarding.").handoff_id
    o = other_tenant
    for path in ("tasks", "handoffs", "approvals"):
        listed = client.get(f"{URL}/{path}", headers=o.user.headers)
        assert listed.status_code == 200 and listed.json()["data"] == [], path
    assert client.get(f"{URL}/config", headers=o.user.headers).json()["enabled"] is False
    assert client.get(f"{URL}/performance", headers=o.user.headers).json()["leadsContacted"] == 0
    assert client.get(f"{URL}/prospects/{prospect['id']}/decisions", headers=o.user.headers).status_code == 404
    assert client.post(f"{URL}/approvals/{entry['id']}/approve", headers=o.user.headers).status_code == 404
    assert client.post(f"{URL}/approvals/{entry['id']}/reject", json={"reason": "x"},
                       headers=o.user.headers).status_code == 404
    assert client.post(f"{URL}/handoffs/{handoff}/accept", headers=o.user.headers).status_code == 404
    # a viewer reads but does not act
    assert client.get(f"{URL}/approvals", headers=t.viewer.headers).status_code == 200
    assert client.post(f"{URL}/approvals/{entry['id']}/approve", headers=t.viewer.headers).status_code == 403
    assert client.post(f"{URL}/run", headers=t.user.headers).status_code == 403


def test_a_reply_event_enqueues_the_reply_job_for_the_agents_prospects_only_and_a_reply_is_handled_once(
        client, bdr_tenant, owner_session):
    t = bdr_tenant
    engaged = _prospect(client, t, owner_session)
    humans = _prospect(client, t, owner_session, tier=None)  # never discovered: a human rep's prospect
    _configure(client, t)
    client.post(f"{URL}/run", headers=t.admin.headers)
    from serving.core import outbox
    with t.session() as session, session.begin():
        set_tenant(session, t.organization_id)
        for prospect in (engaged, humans):
            outbox.publish(session, organization_id=t.organization_id, type="email.replied",
                           subject_id=uuid.uuid4(),
                           payload={"email_id": uuid.uuid4(), "prospect_id": prospect["id"],
                                    "detail": {"snippet": "Interested, we need this.", "from": prospect["email"]}})
    t.deliver_events()
    jobs = owner_session.execute(text("select args from procrastinate.procrastinate_jobs where task_name = "
                                      "'bdr.reply' and args->>'organization_id' = :o"),
                                 {"o": str(t.organization_id)}).scalars().all()
    assert [j["prospect_id"] for j in jobs] == [engaged["id"]]
    assert jobs[0]["text"] == "Interested, we need this." and jobs[0]["reply_key"]

    first = _reply_keyed(t, engaged["id"], jobs[0]["text"], jobs[0]["reply_key"])
    again = _reply_keyed(t, engaged["id"], jobs[0]["text"], jobs[0]["reply_key"])
    assert first.action == "qualify" and first.handoff_id is not None and again.action == "done_before"
    assert client.get(f"{URL}/handoffs", headers=t.user.headers).json()["pagination"]["total"] == 1
    replies = [d for d in _decisions(client, t, engaged["id"]) if d["step"] == "reply"]
    assert len(replies) == 1


def _reply_keyed(tenant, prospect_id, reply, key):
    with tenant.session() as session, session.begin():
        set_tenant(session, tenant.organization_id)
        config = agent.get_config(db_session=session, organization_id=tenant.organization_id)
        return agent.handle_reply(db_session=session, settings=tenant.settings, config=config,
                                  prospect_id=uuid.UUID(prospect_id), text=reply, reply_key=key)


def _classify(tenant, settings, reply):
    with tenant.session() as session, session.begin():
        set_tenant(session, tenant.organization_id)
        config = agent.get_config(db_session=session, organization_id=tenant.organization_id)
        return agent.classify(db_session=session, settings=settings, config=config, text=reply, sender=None,
                              today=date(2026, 12, 7))


def test_with_a_key_replies_are_classified_by_the_model_and_fall_back_to_the_rules(
        client, bdr_tenant, settings, fake_vendors, owner_session):
    from tests.conftest import make_settings
    t = bdr_tenant
    _configure(client, t)
    keyed = make_settings(settings.owner_database_url, settings.home, **fake_vendors.env(only=("openai",)))
    # the rules would read "check back" as not now; the model reads the whole reply
    fake_vendors.answer_json({"label": "out_of_office", "until": "2027-01-04", "referral_email": None,
                              "confidence": 0.9})
    result = _classify(t, keyed, "Check back when I'm back from parental leave on January 4.")
    assert (result.label, result.until) == ("out_of_office", date(2027, 1, 4))
    assert result.method.startswith("openai:")
    logged = owner_session.execute(text("select task, prompt_version from app.ai_generations where "
                                        "organization_id = :o order by created_at desc limit 1"),
                                   {"o": t.organization_id}).one()
    assert tuple(logged) == ("classify", "bdr-classify-v1")
    # an answer outside the labels, or a vendor that is down, leaves the rules in charge
    fake_vendors.answer_json({"label": "maybe", "until": None, "referral_email": None, "confidence": 1})
    assert _classify(t, keyed, "Not right now.").method == "rules_fallback"
    fake_vendors.openai.down()
    fallback = _classify(t, keyed, "Not right now - check back in two weeks.")
    assert (fallback.label, fallback.method, fallback.until) == ("not_now", "rules_fallback", date(2026, 12, 21))
    # an unsubscribe never reaches the model
    fake_vendors.reset()
    fake_vendors.answer_json({"label": "interested", "until": None, "referral_email": None, "confidence": 1})
    assert _classify(t, keyed, "Unsubscribe me please").label == "unsubscribe"


def test_a_draft_that_fails_the_checker_is_logged_and_never_queued_or_sent(client, bdr_tenant, settings,
                                                                           fake_vendors, owner_session):
    from tests.conftest import make_settings
    t = bdr_tenant
    prospect = _prospect(client, t, owner_session)
    _configure(client, t, mode="auto_above_confidence", confidenceThreshold=0)
    keyed = make_settings(settings.owner_database_url, settings.home, **fake_vendors.env(only=("openai",)))
    fake_vendors.answer_json({"subject": "Join 500 customers",
                              "body": "Hi Dana,\n\nWe have 500 customers. Claim yours at https://evil.example/win "
                                      "today.\n\nWould a 15-minute call help?\n\nBest,\nAdmin"})
    with t.session() as session, session.begin():
        set_tenant(session, t.organization_id)
        config = agent.get_config(db_session=session, organization_id=t.organization_id)
        result = agent.engage(db_session=session, settings=keyed, config=config,
                              prospect_id=uuid.UUID(prospect["id"]), now=MONDAY_NOON_UTC)
    assert result.outcome == "dropped" and "fails" not in result.reason and "checker" in result.reason
    assert result.email_id is None and result.approval_id is None
    drafts = owner_session.execute(text("select status, email_id from app.ai_email_drafts where prospect_id = :p"),
                                   {"p": prospect["id"]}).all()
    assert [tuple(d) for d in drafts] == [("rejected", None)]
    assert client.get(f"{URL}/approvals", headers=t.user.headers).json()["data"] == []
    last = _decisions(client, t, prospect["id"])[-1]
    assert (last["step"], last["chosen"]) == ("engage", "drop")
    assert {f["code"] for f in last["outcome"]["failures"]} >= {"LINK_NOT_ALLOWED"}
    tasks = client.get(f"{URL}/tasks", headers=t.user.headers).json()["data"]
    assert [(x["step"], x["status"]) for x in tasks] == [("engage", "failed")]


def test_first_touch_mode_reviews_only_the_first_message_and_a_workflow_send_step_overrides_the_mode(
        client, bdr_tenant, owner_session):
    t = bdr_tenant
    prospect = _prospect(client, t, owner_session)
    _configure(client, t, mode="first_touch", caps={"perDay": 10, "perProspect": 3, "minSpacingHours": 24})
    first = _engage(t, prospect["id"], MONDAY_NOON_UTC)
    assert first.outcome == "queued" and "first touches are reviewed" in first.reason
    follow_up = _engage(t, prospect["id"], MONDAY_NOON_UTC + timedelta(hours=25))
    assert follow_up.outcome == "sent" and follow_up.email_id is not None

    other = _prospect(client, t, owner_session)
    _configure(client, t, mode="all", workflow=[{"kind": "personalize", "tone": "formal"},
                                                {"kind": "send", "requireApproval": False}])
    sent = _engage(t, other["id"], MONDAY_NOON_UTC)
    assert sent.outcome == "sent" and "no review needed" in sent.reason
    body = owner_session.execute(text("select text from app.emails where id = :id"), {"id": sent.email_id}).scalar()
    assert body.startswith("Dear Dana Reyes,")  # the workflow's personalize step set the tone


def test_a_run_records_the_days_performance(client, bdr_tenant, owner_session):
    t = bdr_tenant
    _prospect(client, t, owner_session)
    _configure(client, t, mode="auto_above_confidence", confidenceThreshold=0)
    assert client.post(f"{URL}/run", headers=t.admin.headers).json()["sent"]
    client.post(f"{URL}/run", headers=t.admin.headers)  # re-running updates the same row
    rows = owner_session.execute(text("select contacted, replies from app.bdr_performance_metrics where "
                                      "organization_id = :o"), {"o": t.organization_id}).all()
    assert [tuple(r) for r in rows] == [(1, 0)]
    perf = client.get(f"{URL}/performance", headers=t.user.headers).json()
    assert perf["leadsContacted"] == 1 and perf["responseRate"] == 0


def test_a_prospect_without_an_owner_is_handed_off_by_the_routing_rules(client, bdr_tenant, owner_session):
    t = bdr_tenant
    prospect = _prospect(client, t, owner_session, country="Germany")
    owner_session.execute(text("update app.prospects set owner_id = null where id = :id"), {"id": prospect["id"]})
    owner_session.commit()
    _configure(client, t, routing=[{"countries": ["France"], "userId": str(t.viewer.id)},
                                   {"countries": ["germany"], "userId": str(t.admin.id)}])
    outcome = _reply(t, prospect["id"], "Interested - we need faster onboarding.")
    handoff = client.get(f"{URL}/handoffs", headers=t.user.headers).json()["data"][0]
    assert handoff["id"] == str(outcome.handoff_id) and handoff["toUserId"] == str(t.admin.id)
    assert "routing rule (countries ['germany']" in _decisions(client, t, prospect["id"])[-1]["reason"]

"""The BDR console (AppTest against a real API, the agent's data made by the agent itself with no AI key): a rep
reads a queued draft with its checker result and approves it, edits one before sending, or rejects one with a
reason; accepts a handoff and sees its evidence; reads why the agent did what it did; the performance figures are
the API's; an admin backtests and accepts, a member only reads the settings."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text

from serving.bdr import agent
from serving.core.db import set_tenant
from tests.dashboards.apptest import api_for, open_page

URL = "/api/v1/bdr"
ALWAYS = {"startHour": 0, "endHour": 24, "days": [0, 1, 2, 3, 4, 5, 6]}


@pytest.fixture(scope="module")
def api(settings) -> Iterator[str]:
    with api_for(settings) as url:
        yield url


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def _agent_with_drafts(api, tenant, owner_session, n: int = 1) -> list[dict]:
    headers = tenant.user.headers
    httpx.post(f"{api}/api/v1/knowledge/sources", headers=headers, timeout=60,
               json={"title": "Why Relay", "text": "Relay cuts onboarding time for field teams by 30 percent."})
    made = []
    for i in range(n):
        p = httpx.post(f"{api}/api/v1/prospects", headers=headers, json={
            "email": f"dana{i}.{uuid.uuid4().hex[:6]}@acme.example", "firstName": "Dana", "lastName": f"Reyes{i}",
            "title": "VP of Operations", "company": "Acme Robotics"}).json()
        owner_session.execute(text("update app.prospects set intent_tier = 'hot', intent_score = 80 where id = :id"),
                              {"id": p["id"]})
        made.append(p)
    owner_session.commit()
    saved = httpx.put(f"{api}{URL}/config", headers=tenant.admin.headers,
                      json={"enabled": True, "approvalMode": "all", "settings": {"workingHours": ALWAYS}})
    assert saved.status_code == 200, saved.text
    assert httpx.post(f"{api}{URL}/run", headers=tenant.admin.headers, timeout=120).status_code == 200
    return made


def _pending(api, tenant) -> list[dict]:
    return httpx.get(f"{api}{URL}/approvals", params={"status": "pending"}, headers=tenant.user.headers).json()["data"]


def test_approve_edit_and_reject_from_the_queue(api, tenant, owner_session):
    _agent_with_drafts(api, tenant, owner_session, n=3)
    at = open_page(tenant.user, "bdr")
    assert at.tabs[0].label == "Approvals (3)"
    assert any("Checker passed" in m.value for m in at.markdown)
    first, second, third = _pending(api, tenant)

    button(at, "Approve and send").click().run()  # the first form: as written
    assert not at.error, [e.value for e in at.error]
    assert at.success[0].value == "Sent."
    body = at.text_area(key=f"body_{second['id']}")
    body.set_value(body.value.replace("Hi Dana,", "Hi Dana,\n\nA note from me before the rest."))
    next(b for b in at.button if b.label == "Approve and send").click().run()
    assert not at.error, [e.value for e in at.error]
    assert at.success[0].value == "Sent with your edits."
    button(at, "Reject").click().run()
    assert "Say why" in at.error[0].value  # a reason is required
    at.text_input(key=f"reason_{third['id']}").set_value("Wrong product line for them")
    button(at, "Reject").click().run()
    assert at.success[0].value == "Rejected."

    decided = {a["id"]: a for a in httpx.get(f"{api}{URL}/approvals", headers=tenant.user.headers).json()["data"]}
    assert decided[first["id"]]["status"] == "sent" and decided[second["id"]]["status"] == "sent"
    assert decided[third["id"]]["status"] == "rejected" and decided[third["id"]]["reason"] == \
        "Wrong product line for them"
    sent = owner_session.execute(text("select text from app.emails where id = :id"),
                                 {"id": decided[second["id"]]["emailId"]}).scalar_one()
    assert "A note from me before the rest." in sent


def test_handoffs_decisions_and_performance(api, tenant, owner_session):
    [prospect] = _agent_with_drafts(api, tenant, owner_session)
    [entry] = _pending(api, tenant)
    assert httpx.post(f"{api}{URL}/approvals/{entry['id']}/approve", headers=tenant.user.headers,
                      timeout=60).status_code == 200
    with tenant.session() as session, session.begin():
        set_tenant(session, tenant.organization_id)
        config = agent.get_config(db_session=session, organization_id=tenant.organization_id)
        agent.handle_reply(db_session=session, settings=tenant.settings, config=config,
                           prospect_id=uuid.UUID(prospect["id"]), text="Interested - we need faster onboarding.")

    at = open_page(tenant.user, "bdr")
    assert at.tabs[1].label == "Handoffs (1)"
    assert any("replied with interest" in m.value for m in at.markdown)
    assert any("faster onboarding" in str(df.value) for df in at.dataframe)  # the evidence per criterion
    button(at, "Accept: I take it from here").click().run()
    assert at.success[0].value == "Accepted: the prospect is yours."
    handoff = httpx.get(f"{api}{URL}/handoffs", headers=tenant.user.headers).json()["data"][0]
    assert handoff["status"] == "accepted" and handoff["acceptedBy"] == str(tenant.user.id)

    at.selectbox(key="bdr_log_prospect").set_value(prospect["id"]).run()
    shown = " ".join(m.value for m in at.markdown)
    for step in ("Discover: Pick", "Research: Remember", "Engage: Queue for approval", "Reply: Qualify"):
        assert step in shown, step
    assert "the reply shows interest" in shown

    perf = httpx.get(f"{api}{URL}/performance", headers=tenant.user.headers).json()
    metrics = {m.label: m.value for m in at.metric}
    assert perf["leadsContacted"] == 1 and perf["handoffRate"] == 1
    assert metrics["Leads contacted"] == "1" and metrics["Handoff rate"] == "100.0%"


def test_backtest_and_configuration_are_an_admins(api, tenant, owner_session):
    _agent_with_drafts(api, tenant, owner_session)
    member = open_page(tenant.user, "bdr")
    assert not [b for b in member.button if b.label == "Run a backtest of the saved settings"]
    assert any("Only admins" in c.value for c in member.caption)

    at = open_page(tenant.admin, "bdr")
    button(at, "Run a backtest of the saved settings").click().run()
    assert at.success[0].value == "Backtest done."
    assert {m.label for m in at.metric} >= {"Would pick now", "Expected reply rate"}
    button(at, "Accept this report").click().run()
    assert at.success[0].value.startswith("Accepted")
    assert httpx.get(f"{api}{URL}/backtests", headers=tenant.admin.headers).json()["data"][0]["acceptedAt"]

    form_mode = next(s for s in at.selectbox if s.label == "Approval mode")
    form_mode.set_value("auto_above_confidence")
    button(at, "Save").click().run()
    assert at.success[0].value == "Configuration saved."  # the accepted backtest is of the saved settings
    assert httpx.get(f"{api}{URL}/config", headers=tenant.user.headers).json()["approvalMode"] == \
        "auto_above_confidence"

"""The rep's workspace (AppTest) against a real API server: Today's tasks completed with a call logged, hot
prospects linked to their record; Prospects listed server-side with filters and pages, created with the API's
error next to the field, opened by `?prospect=`, acted on (call, note, enroll, e-mail), and a CSV imported with its
row report — all as the signed-in user, nothing of another organization."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from serving.core.clock import utcnow
from tests.dashboards.apptest import api_for, open_page
from tests.factories import unique_email


@pytest.fixture(scope="module")
def api(settings) -> Iterator[str]:
    with api_for(settings) as url:
        yield url


page = open_page


def post(api: str, member, path: str, body: dict) -> dict:
    response = httpx.post(f"{api}/api/v1{path}", json=body, headers=member.headers)
    assert response.status_code < 300, response.text
    return response.json()


def markdown(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def test_today_completes_a_call_task_and_links_hot_prospects(api, tenant, owner_session):
    prospect = post(api, tenant.user, "/prospects", {"email": unique_email("today"), "firstName": "Tia"})
    task = post(api, tenant.user, "/tasks", {"type": "call", "title": "Call Tia", "prospectId": prospect["id"],
                                             "dueAt": (utcnow() - timedelta(minutes=5)).isoformat()})
    at = page(tenant.user, "today")
    assert "Call Tia" in markdown(at)
    at.selectbox[0].set_value("meeting_booked")
    next(b for b in at.button if b.label == "Log call and complete").click().run()
    assert at.success[0].value == "Done: Call Tia."
    done = httpx.get(f"{api}/api/v1/tasks", params={"status": "completed"}, headers=tenant.user.headers).json()
    assert [(t["id"], t["outcome"]) for t in done["data"]] == [(task["id"], "meeting_booked")]
    calls = httpx.get(f"{api}/api/v1/calls", params={"prospectId": prospect["id"]}, headers=tenant.user.headers)
    assert len(calls.json()["data"]) == 1  # completing a call task logs the call


def test_prospects_list_filters_and_pages_server_side(api, tenant, other_tenant):
    for i in range(30):
        post(api, tenant.user, "/prospects", {"email": unique_email(f"list{i}"), "company": "Listco",
                                              "firstName": f"Lena{i:02d}"})
    post(api, other_tenant.user, "/prospects", {"email": unique_email("other"), "firstName": "Stranger"})
    at = page(tenant.user, "prospects")
    table = at.dataframe[0].value
    assert len(table) == 25 and "Stranger" not in set(table["Name"])
    assert any("Page 1 of 2 · 30 prospects" in c.value for c in at.caption)
    next(b for b in at.button if b.label == "Next").click().run()
    assert len(at.dataframe[0].value) == 5
    at.text_input(key="prospects_q").set_value("Lena07").run()
    assert list(at.dataframe[0].value["Name"]) == ["Lena07"]


def test_create_shows_the_api_error_next_to_the_field_then_opens_the_record(api, tenant):
    at = page(tenant.user, "prospects")
    form = {t.label: t for t in at.text_input}
    form["E-mail"].set_value("not-an-address")
    next(b for b in at.button if b.label == "Add prospect").click().run()
    assert any("email" in c.value.lower() for c in at.caption if c.value.startswith(":red["))
    email = unique_email("created")
    {t.label: t for t in at.text_input}["E-mail"].set_value(email)
    {t.label: t for t in at.text_input}["First name"].set_value("Cora")
    next(b for b in at.button if b.label == "Add prospect").click().run()
    assert at.success[0].value == "Added Cora."
    assert at.query_params["prospect"]
    assert any(s.value == "Cora" for s in at.subheader)


def test_record_actions_go_through_the_api(api, tenant):
    prospect = post(api, tenant.user, "/prospects", {"email": unique_email("act"), "firstName": "Ari"})
    cadence = post(api, tenant.user, "/cadences", {"name": "Workspace cadence", "steps": [
        {"type": "call", "delayDays": 0, "content": "Intro call"}]})
    at = page(tenant.user, "prospects", prospect=prospect["id"])
    assert any(s.value == "Ari" for s in at.subheader)
    with_note = {t.label: t for t in at.text_input}
    with_note["Subject"].set_value("Met at the fair")
    next(b for b in at.button if b.label == "Add note").click().run()
    assert at.success[0].value == "Note added."
    next(b for b in at.button if b.label == "Log call").click().run()
    assert at.success[0].value == "Call logged."
    next(b for b in at.button if b.label == "Enroll").click().run()
    assert at.success[0].value == "Enrolled."
    enrollments = httpx.get(f"{api}/api/v1/cadences/{cadence['id']}/enrollments", headers=tenant.user.headers)
    assert [e["prospectId"] for e in enrollments.json()["data"]] == [prospect["id"]]
    timeline = httpx.get(f"{api}/api/v1/prospects/{prospect['id']}/activities", headers=tenant.user.headers).json()
    assert {"note_added", "call_made"} <= {a["type"] for a in timeline["data"]}


def test_a_record_of_another_organization_is_not_shown(api, tenant, other_tenant):
    theirs = post(api, other_tenant.user, "/prospects", {"email": unique_email("theirs"), "firstName": "Hidden"})
    at = page(tenant.user, "prospects", prospect=theirs["id"])
    assert at.error and "cannot be shown" in at.error[0].value
    assert not any(s.value == "Hidden" for s in at.subheader)


def test_email_compose_previews_checks_and_sends_through_the_api(api, tenant):
    prospect = post(api, tenant.user, "/prospects", {"email": unique_email("mail"), "firstName": "Mira",
                                                     "company": "Mailco"})
    post(api, tenant.user, "/email-templates", {"name": "Intro", "subject": "Hello {{firstName}}",
                                                "text": "Hi {{firstName}}, a quick idea for {{company}}."})
    at = page(tenant.user, "email")
    at.text_input(key="compose_q").set_value("Mira").run()
    at.selectbox(key="compose_template").select_index(1).run()
    assert any(m.value == "**Hello Mira**" for m in at.markdown)  # the preview in the prospect's data
    assert any("a quick idea for Mailco" in t.value for t in at.text)
    assert at.success or at.warning  # the checker's verdict, either way
    next(b for b in at.button if b.label == "Send").click().run()
    assert at.success[-1].value == "Queued for sending."
    sent = httpx.get(f"{api}/api/v1/emails", params={"prospectId": prospect["id"]}, headers=tenant.user.headers)
    assert [e["subject"] for e in sent.json()["data"]] == ["Hello Mira"]


def test_email_suppression_through_the_api(api, tenant):
    at = page(tenant.user, "email")
    blocked = unique_email("blocked")
    {t.label: t for t in at.text_input}["Never e-mail this address"].set_value(blocked)
    next(b for b in at.button if b.label == "Suppress").click().run()
    assert at.success[0].value == f"{blocked} will not be e-mailed."
    check = httpx.get(f"{api}/api/v1/emails/suppressions/{blocked}", headers=tenant.user.headers).json()
    assert check["suppressed"] is True


def test_api_keys_created_shown_once_used_and_revoked(api, tenant):
    at = page(tenant.user, "api_keys")
    {t.label: t for t in at.text_input}["Name"].set_value("Nightly export")
    at.multiselect[0].set_value(["prospects:read"])
    next(b for b in at.button if b.label == "Create key").click().run()
    secret = at.code[0].value
    assert at.success[-1].value.startswith("The secret of “Nightly export”")
    assert httpx.get(f"{api}/api/v1/prospects", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    at.run()
    assert not at.code  # shown once
    next(b for b in at.button if b.label == "Revoke").click().run()
    assert at.success[0].value == "“Nightly export” revoked."
    assert httpx.get(f"{api}/api/v1/prospects", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_a_cadence_is_built_enrolled_and_paused_from_the_page(api, tenant):
    prospect = post(api, tenant.user, "/prospects", {"email": unique_email("cad"), "firstName": "Cato"})
    at = page(tenant.user, "cadences")
    assert at.info and "No cadences yet" in at.info[0].value
    at.text_input(key="cadence_name").set_value("Q1 outbound").run()
    form = {t.label: t for t in at.text_input}
    form["Subject (e-mail)"].set_value("Hello {{firstName}}")
    {t.label: t for t in at.text_area}["E-mail text, or what to do for a call / LinkedIn / task step"].set_value(
        "A short note.")
    form["Variant B subject (optional A/B test of the subject)"].set_value("Quick question, {{firstName}}")
    next(b for b in at.button if b.label == "Add step").click().run()
    at.selectbox[-2].set_value("call")
    next(b for b in at.button if b.label == "Add step").click().run()
    next(b for b in at.button if b.label == "Save cadence").click().run()
    assert at.success[0].value == "Cadence “Q1 outbound” saved with 2 steps."
    cadence = httpx.get(f"{api}/api/v1/cadences", headers=tenant.user.headers).json()["data"][0]
    full = httpx.get(f"{api}/api/v1/cadences/{cadence['id']}", headers=tenant.user.headers).json()
    assert [s["type"] for s in full["steps"]] == ["email", "call"]
    assert [v["name"] for v in full["steps"][0]["variants"]] == ["A", "B"]
    assert full["settings"]["workingDays"] == [1, 2, 3, 4, 5]
    at.text_input(key="cadence_enroll_q").set_value("Cato").run()
    at.multiselect(key="cadence_enroll_pick").set_value([prospect["id"]]).run()
    next(b for b in at.button if b.label == "Enroll").click().run()
    assert at.success[0].value == "Enrollment done: 1 enrolled."
    next(b for b in at.button if b.label == "Pause").click().run()
    enrollment = httpx.get(f"{api}/api/v1/cadences/{cadence['id']}/enrollments", headers=tenant.user.headers)
    assert [(e["prospectId"], e["status"]) for e in enrollment.json()["data"]] == [(prospect["id"], "paused")]


def test_deals_board_moves_a_deal_and_the_record_overrides_and_closes(api, tenant):
    deal = post(api, tenant.user, "/deals", {"name": "Board deal", "amount": 12000, "stage": "discovery"})
    contact = post(api, tenant.user, "/prospects", {"email": unique_email("buyer"), "firstName": "Bea"})
    at = page(tenant.user, "deals")
    assert "Board deal (Discovery)" in at.selectbox(key="deals_pick").options
    # the keyboard's way to move a card (dragging it is driven in Chromium: test_dashboard_browser.py)
    at.selectbox(key="deals_pick").set_value(deal["id"])
    at.selectbox(key="deals_move_to").set_value("proposal")
    at.button(key="deals_move").click().run()
    assert at.success[0].value == "Board deal moved to Proposal."
    assert httpx.get(f"{api}/api/v1/deals/{deal['id']}", headers=tenant.user.headers).json()["stage"] == "proposal"
    at.selectbox(key="deals_pick").set_value(deal["id"])
    at.button(key="deals_open").click().run()
    assert any(s.value == "Board deal" for s in at.subheader)
    at.text_input(key="deal_contact_q").set_value("Bea").run()
    at.selectbox(key="deal_contact_role").set_value("champion").run()
    next(b for b in at.button if b.label == "Add contact").click().run()
    assert any("Bea · Champion" in m.value for m in at.markdown)
    {s.label: s for s in at.selectbox}["Category"].set_value("commit")
    {t.label: t for t in at.text_input}["Why (kept on the timeline)"].set_value("Signed MSA in hand")
    next(b for b in at.button if b.label == "Override").click().run()
    body = httpx.get(f"{api}/api/v1/deals/{deal['id']}", headers=tenant.user.headers).json()
    assert (body["forecastCategory"], body["forecastCategoryManual"]) == ("commit", True)
    notes = httpx.get(f"{api}/api/v1/deals/{deal['id']}/activities", headers=tenant.user.headers).json()["data"]
    assert any(n.get("description") == "Signed MSA in hand" for n in notes)
    at.radio[0].set_value("closed_lost")
    next(b for b in at.button if b.label == "Close").click().run()
    assert at.error and "Say why" in at.error[0].value
    {t.label: t for t in at.text_input}["Reason (required when lost)"].set_value("Budget moved to 2027")
    next(b for b in at.button if b.label == "Close").click().run()
    closed = httpx.get(f"{api}/api/v1/deals/{deal['id']}", headers=tenant.user.headers).json()
    assert (closed["stage"], closed["lostReason"]) == ("closed_lost", "Budget moved to 2027")
    assert contact["id"]


def test_accounts_show_the_hierarchy_contacts_and_deals(api, tenant):
    parent = post(api, tenant.user, "/accounts", {"name": "Globex Holdings"})
    child = post(api, tenant.user, "/accounts", {"name": "Globex Europe", "parentAccountId": parent["id"]})
    post(api, tenant.user, "/accounts", {"name": "Globex Paris", "parentAccountId": child["id"]})
    post(api, tenant.user, "/prospects", {"email": unique_email("globex"), "firstName": "Gil",
                                          "accountId": child["id"]})
    post(api, tenant.user, "/deals", {"name": "Globex EU rollout", "amount": 50000, "accountId": child["id"]})
    at = page(tenant.user, "accounts", account=child["id"])
    assert any(s.value == "Globex Europe" for s in at.subheader)
    tree = next(m.value for m in at.markdown if "Globex Holdings" in m.value)
    assert tree.splitlines() == ["- Globex Holdings", "    - **Globex Europe**", "        - Globex Paris"]
    labels = [str(link.proto.label) for link in at.get("page_link")]
    assert any(text.startswith("Gil") for text in labels)
    assert any(text.startswith("Globex EU rollout") for text in labels)


def test_the_sidebar_search_box_is_on_every_page_and_quiet_without_a_search_engine(api, tenant):
    at = page(tenant.user, "today")
    at.sidebar.text_input(key="jump_q").set_value("globex").run()
    assert not at.exception
    assert any(c.value.startswith("Search is unavailable") or c.value == "Nothing found."
               for c in at.sidebar.caption)

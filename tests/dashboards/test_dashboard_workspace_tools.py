"""The workspace's tools (AppTest against a real API): saved views that a link reopens, bulk actions on
selected rows, the export of what the filters match, a record's score explained factor by factor, and the
mailboxes settings page with its warm-up ramp."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import update

from serving.prospects.models import Prospect
from tests.dashboards.apptest import api_for, open_page
from tests.factories import unique_email


@pytest.fixture(scope="module")
def api(settings) -> Iterator[str]:
    with api_for(settings) as url:
        yield url


def post(api: str, member, path: str, body: dict) -> dict:
    response = httpx.post(f"{api}/api/v1{path}", json=body, headers=member.headers)
    assert response.status_code < 300, response.text
    return response.json()


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def names(at) -> list[str]:
    return sorted(at.dataframe[0].value["Name"])


def test_a_saved_view_is_saved_from_the_filters_and_reopened_by_its_link(api, tenant):
    post(api, tenant.user, "/prospects", {"email": unique_email("fin"), "firstName": "Fina",
                                          "customFields": {"industry": "fintech"}, "status": "engaged"})
    post(api, tenant.user, "/prospects", {"email": unique_email("ret"), "firstName": "Reta",
                                          "customFields": {"industry": "retail"}, "status": "engaged"})
    at = open_page(tenant.user, "prospects")
    at.multiselect(key="prospects_status").set_value(["engaged"]).run()
    at.text_area(key="prospects_custom").set_value("industry:fintech").run()
    assert names(at) == ["Fina"]
    next(t for t in at.text_input if t.label == "Name").set_value("Engaged fintech")
    button(at, "Save view").click().run()
    assert not at.exception and at.success[0].value == "View “Engaged fintech” saved."
    views = httpx.get(f"{api}/api/v1/prospects/views", headers=tenant.user.headers).json()["data"]
    assert [(v["name"], v["filters"]["status"], v["filters"]["customField"]) for v in views] == [
        ("Engaged fintech", ["engaged"], ["industry:fintech"])]
    assert at.query_params["view"] == views[0]["id"]

    reopened = open_page(tenant.user, "prospects", view=views[0]["id"])  # a shared link, a fresh browser
    assert reopened.multiselect(key="prospects_status").value == ["engaged"]
    assert names(reopened) == ["Fina"]


def test_bulk_assign_and_status_act_on_the_selected_rows(api, tenant):
    for i in range(3):
        post(api, tenant.user, "/prospects", {"email": unique_email(f"bulk{i}"), "firstName": f"Bo{i}",
                                              "company": "Bulkco"})
    at = open_page(tenant.user, "prospects")
    at.text_input(key="prospects_q").set_value("Bulkco").run()
    at.toggle(key="prospects_bulk_mode").set_value(True).run()
    order = list(at.dataframe[0].value["Name"])
    chosen = [order.index("Bo0"), order.index("Bo2")]
    # the table's row selection, as the browser reports it
    at.session_state["prospects_table_bulk"] = {"selection": {"rows": chosen, "columns": [], "cells": []}}
    at.run()
    assert any(m.value == "**2 selected**" for m in at.markdown)
    at.selectbox(key="bulk_status").set_value("qualified")
    button(at, "Set").click().run()
    assert at.success[0].value == "2 prospects set to Qualified."
    statuses = {p["firstName"]: p["status"] for p in httpx.get(
        f"{api}/api/v1/prospects", params={"company": "Bulkco"}, headers=tenant.user.headers).json()["data"]}
    assert statuses == {"Bo0": "qualified", "Bo1": "new", "Bo2": "qualified"}


def test_the_export_downloads_what_the_filters_match(api, tenant):
    for i in range(2):
        post(api, tenant.user, "/prospects", {"email": unique_email(f"exp{i}"), "company": "Exportco"})
    at = open_page(tenant.user, "prospects")
    at.text_input(key="prospects_q").set_value("Exportco").run()
    at.toggle(key="prospects_bulk_mode").set_value(True).run()
    button(at, "Export the 2 matching prospects as CSV").click().run()
    exported = at.session_state["prospects_csv_export"].decode()
    assert exported.count("Exportco") == 2 and len(exported.strip().splitlines()) == 3


def test_the_record_explains_the_score_factor_by_factor(api, tenant, owner_session):
    prospect = post(api, tenant.user, "/prospects", {"email": unique_email("why"), "firstName": "Wyn"})
    insights = {"leadScore": {"score": 72, "tier": "hot", "baseline": 40, "otherFactorsImpact": 4},
                "topFactors": [{"factor": "Visited pricing 3 times", "impact": 20},
                               {"factor": "Title: VP", "impact": 12}, {"factor": "No reply yet", "impact": -4}]}
    with owner_session.begin():
        owner_session.execute(update(Prospect).where(Prospect.id == prospect["id"])
                              .values(ai_insights=insights, priority_score=72))
    at = open_page(tenant.user, "prospects", prospect=prospect["id"])
    assert any("Lead score 72" in m.value for m in at.markdown)
    charts = [c.proto for c in at.get("vega_lite_chart")]
    # the waterfall carries each factor with its points (the chart's data travels in the element)
    assert charts and "Visited pricing 3 times" in str(charts[0]) and "No reply yet" in str(charts[0])


def test_a_record_not_yet_scored_says_so(api, tenant):
    prospect = post(api, tenant.user, "/prospects", {"email": unique_email("new"), "firstName": "Nell"})
    at = open_page(tenant.user, "prospects", prospect=prospect["id"])
    assert any("Not scored yet" in c.value for c in at.caption)


def test_mailboxes_are_added_warmed_up_and_paused_from_settings(api, tenant):
    at = open_page(tenant.user, "mailboxes")
    assert any("No mailbox yet" in i.value for i in at.info)
    form = {t.label: t for t in at.text_input}
    address = unique_email("sender")
    form["Address"].set_value(address)
    form["Name shown to recipients"].set_value("Riley Rep")
    {n.label: n for n in at.number_input}["Daily cap"].set_value(50)
    button(at, "Add mailbox").click().run()
    assert at.success[0].value == f"{address} added."
    mailbox = httpx.get(f"{api}/api/v1/mailboxes", headers=tenant.user.headers).json()["data"][0]
    # a new address warms up: 20 today, +10 a day, 50 on the fourth day — drawn from the API's schedule
    assert [d["cap"] for d in mailbox["warmupSchedule"]] == [20, 30, 40, 50]
    assert at.get("vega_lite_chart") and any("reaching 50 a day" in c.value for c in at.caption)
    assert any("0 of 20 sent today" in str(p.proto) for p in at.get("progress"))
    next(t for t in at.toggle if t.label == "Sending").set_value(False)
    button(at, "Save").click().run()
    assert at.success[0].value == "Mailbox saved."
    paused = httpx.get(f"{api}/api/v1/mailboxes", headers=tenant.user.headers).json()["data"][0]
    assert paused["isActive"] is False and paused["warmupStartedOn"] == mailbox["warmupStartedOn"]


def test_a_cadence_enrolls_everyone_in_a_saved_view(api, tenant):
    for i in range(3):
        post(api, tenant.user, "/prospects", {"email": unique_email(f"view{i}"), "company": "Viewco"})
    post(api, tenant.user, "/prospects", {"email": unique_email("outside"), "company": "Elsewhere"})
    post(api, tenant.user, "/prospects/views", {"name": "Viewco people", "filters": {"q": "Viewco"}})
    cadence = post(api, tenant.user, "/cadences", {"name": "View cadence", "steps": [
        {"type": "call", "delayDays": 0, "content": "Intro call"}]})
    at = open_page(tenant.user, "cadences")
    views = httpx.get(f"{api}/api/v1/prospects/views", headers=tenant.user.headers).json()["data"]
    at.selectbox(key="cadence_enroll_view").set_value(views[0]["id"]).run()
    button(at, "Enroll 3 prospects").click().run()
    assert at.success[0].value == "Enrollment done: 3 enrolled."
    enrolled = httpx.get(f"{api}/api/v1/cadences/{cadence['id']}/enrollments", headers=tenant.user.headers)
    assert len(enrolled.json()["data"]) == 3

"""The notification bell and centre (AppTest, as the other page tests) against a real API server: the unread count,
the list, read/archive/snooze/mark-all through the API as the signed-in user, preferences saved and refused, and
nothing of another organization."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboards.apptest import api_for, open_page


@pytest.fixture(scope="module")
def api(settings) -> Iterator[str]:
    with api_for(settings) as url:
        yield url


def win(api: str, tenant, name: str) -> None:
    with httpx.Client(base_url=api) as http:
        deal = http.post("/api/v1/deals", json={"name": name}, headers=tenant.user.headers).json()
        http.put(f"/api/v1/deals/{deal['id']}", json={"stage": "closed_won"}, headers=tenant.admin.headers)
    tenant.deliver_events()


def centre(member) -> AppTest:
    return open_page(member, "notifications")


def texts(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def test_bell_and_centre_list_my_notifications_only(api, tenant, other_tenant):
    win(api, tenant, "Bell deal one")
    win(api, tenant, "Bell deal two")
    win(api, other_tenant, "Someone else's deal")
    at = centre(tenant.user)
    assert [m.value for m in at.metric if m.label == "Unread"] == ["2"]
    assert "Deal won: Bell deal one" in texts(at) and "Deal won: Bell deal two" in texts(at)
    assert "Someone else's deal" not in texts(at)
    assert any("2 unread" in str(link.proto.label) for link in at.sidebar.get("page_link"))


def test_read_archive_and_mark_all_through_the_api(api, tenant):
    win(api, tenant, "Action one")
    win(api, tenant, "Action two")
    win(api, tenant, "Action three")
    at = centre(tenant.user)
    next(b for b in at.button if b.label == "Read").click().run()
    assert [m.value for m in at.metric if m.label == "Unread"] == ["2"]
    assert at.success[0].value == "Marked read."
    next(b for b in at.button if b.label == "Archive").click().run()
    listed = httpx.get(f"{api}/api/v1/notifications", headers=tenant.user.headers).json()
    assert len(listed["data"]) == 2
    next(b for b in at.button if b.label == "Mark all read").click().run()
    assert [m.value for m in at.metric if m.label == "Unread"] == ["0"]
    at.selectbox(key=f"snooze_{listed['data'][0]['id']}").set_value("1 day").run()
    assert at.success[0].value == "Snoozed for 1 day."
    assert len(httpx.get(f"{api}/api/v1/notifications", headers=tenant.user.headers).json()["data"]) == 1


def test_preferences_saved_and_refused_through_the_api(api, tenant):
    at = centre(tenant.user)
    form_inputs = {t.label: t for t in at.text_input}
    form_inputs["Time zone (IANA)"].input("Europe/Paris")
    next(s for s in at.selectbox if s.label == "E-mail frequency").set_value("hourly")
    next(b for b in at.button if b.label == "Save preferences").click().run()
    assert at.success[0].value == "Preferences saved."
    saved = httpx.get(f"{api}/api/v1/notifications/preferences", headers=tenant.user.headers).json()
    assert saved["timezone"] == "Europe/Paris" and saved["channels"]["email"]["frequency"] == "hourly"
    form_inputs = {t.label: t for t in at.text_input}
    form_inputs["Quiet hours from (HH:MM)"].input("25:99")
    next(b for b in at.button if b.label == "Save preferences").click().run()
    assert at.error and "Preferences saved failed" in at.error[0].value
    again = httpx.get(f"{api}/api/v1/notifications/preferences", headers=tenant.user.headers).json()
    assert again["channels"]["email"]["quietHoursStart"] == "22:00"

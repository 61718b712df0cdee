"""Running the team from the dashboards (AppTest against a real API): an admin invites, the invitee joins from the
mailed link on the sign-in page; roles and removal; the audit log with its export; My settings — preferences with
the time zone every date follows, two-factor set up and then asked at sign-in; sign-up and a password reset from
the sign-in page. Admin pages are not listed for members."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pyotp
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.components import formatting
from serving.core.clock import utcnow
from tests.conftest import ROOT
from tests.dashboards.apptest import api_for, open_page
from tests.factories import PASSWORD, unique_email
from tests.serving.team.mail import link_token, mails_to

ENTRY = str(ROOT / "dashboards" / "streamlit_app.py")


@pytest.fixture(scope="module")
def api(settings) -> Iterator[str]:
    with api_for(settings) as url:
        yield url


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def fresh_browser(**query: str) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def test_an_admin_invites_and_the_invitee_joins_from_the_link(api, tenant, settings):
    at = open_page(tenant.admin, "team")
    email = unique_email("joiner")
    form = {t.label: t for t in at.text_input}
    form["E-mail"].set_value(email)
    button(at, "Send the invitation").click().run()
    assert at.success[0].value == f"Invitation sent to {email}."
    assert any(email in m.value for m in at.markdown)  # listed as pending
    token = link_token(mails_to(settings, tenant.organization_id, email)[0], "invitation")

    joining = fresh_browser(invitation=token)
    assert any("Join" in s.value for s in joining.subheader)
    {t.label: t for t in joining.text_input}["Your name"].set_value("Jo Iner")
    {t.label: t for t in joining.text_input}["Choose a password"].set_value("a-long-password")
    button(joining, "Join").click().run()
    assert not joining.exception
    assert any(email in m.value for m in joining.sidebar.markdown)  # signed in as the new member
    assert "invitation" not in joining.query_params


def test_roles_and_removal_from_the_team_page(api, tenant):
    at = open_page(tenant.admin, "team")
    at.selectbox(key="team_member").set_value(str(tenant.user.id)).run()
    at.selectbox(key=f"team_role_{tenant.user.id}").set_value("viewer")
    button(at, "Save").click().run()
    assert "is now Viewer" in at.success[0].value
    role = httpx.get(f"{api}/api/v1/auth/me", headers=tenant.user.headers)
    assert role.json()["role"] == "viewer"
    at.selectbox(key="team_member").set_value(str(tenant.user.id)).run()
    button(at, "Remove").click().run()
    assert at.success[0].value == f"{tenant.user.email} removed."
    assert httpx.get(f"{api}/api/v1/prospects", headers=tenant.user.headers).status_code == 401


def test_the_last_admin_is_kept_with_the_apis_reason(api, tenant):
    at = open_page(tenant.admin, "team")
    at.selectbox(key="team_member").set_value(str(tenant.admin.id)).run()
    at.selectbox(key=f"team_role_{tenant.admin.id}").set_value("user")
    button(at, "Save").click().run()
    assert at.error and "last admin" in at.error[0].value


def test_the_audit_log_page_filters_and_exports(api, tenant):
    httpx.put(f"{api}/api/v1/team/members/{tenant.viewer.id}/role", json={"role": "user"},
              headers=tenant.admin.headers)
    at = open_page(tenant.admin, "audit_log")
    at.text_input(key="audit_action").set_value("change_role").run()
    table = at.dataframe[0].value
    assert list(table["Action"]) == ["Change role"] and list(table["Who"]) == [tenant.admin.email]
    button(at, "Export these records as CSV").click().run()
    assert at.session_state["audit_csv"].decode().count("change_role") == 1


def test_admin_pages_are_not_listed_for_members(api, tenant):
    at = open_page(tenant.user, "my_settings")
    for page in ("team", "audit_log"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"app_pages/{page}.py")


def test_my_preferences_set_the_time_zone_dates_are_shown_in(api, tenant):
    at = open_page(tenant.user, "my_settings")
    form = {s.label: s for s in at.selectbox}
    form["Time zone"].set_value("Asia/Tokyo")
    at.radio[0].set_value("dark")
    button(at, "Save preferences").click().run()
    assert at.success[0].value == "Preferences saved."
    prefs = httpx.get(f"{api}/api/v1/me/preferences", headers=tenant.user.headers).json()
    assert (prefs["timezone"], prefs["theme"]) == ("Asia/Tokyo", "dark")
    at.switch_page("app_pages/notifications.py").run()
    assert at.session_state[formatting.TIMEZONE_KEY] == "Asia/Tokyo"
    assert at.session_state["revorc_theme"] == "dark"


def test_two_factor_is_set_up_then_asked_at_sign_in(api, tenant):
    at = open_page(tenant.user, "my_settings")
    button(at, "Set up two-factor sign-in").click().run()
    secret = at.session_state["my_enrolment"]["secret"]
    {t.label: t for t in at.text_input}["The 6-digit code the app shows"].set_value(pyotp.TOTP(secret).now())
    button(at, "Turn on").click().run()
    assert at.success[0].value == "Two-factor sign-in is on."
    assert any(len(c.value.splitlines()) == 10 for c in at.code)  # the recovery codes, shown once

    signing_in = fresh_browser()
    form = {t.label: t for t in signing_in.text_input}
    form["E-mail"].set_value(tenant.user.email)
    form["Password"].set_value(PASSWORD)
    button(signing_in, "Sign in").click().run()
    assert not signing_in.error, [e.value for e in signing_in.error]
    code = {t.label: t for t in signing_in.text_input}["Two-factor code"]  # asked for now
    code.set_value(pyotp.TOTP(secret).at(utcnow() + timedelta(seconds=30)))
    button(signing_in, "Sign in").click().run()
    assert not signing_in.exception
    assert any(tenant.user.email in m.value for m in signing_in.sidebar.markdown)


def test_sign_up_and_reset_a_password_from_the_sign_in_page(api, settings):
    email = unique_email("selfserve")
    at = fresh_browser()
    at.text_input(key="signup_company").set_value("Selfserve Co")
    at.text_input(key="signup_email").set_value(email)
    at.text_input(key="signup_password").set_value("a-long-password")
    button(at, "Create the account").click().run()
    assert not at.exception
    assert any(email in m.value for m in at.sidebar.markdown)
    assert any("Confirm your e-mail address" in i.value for i in at.info)
    organization_id = at.session_state["revorc_session"].organization_id

    forgot = fresh_browser()
    forgot.text_input(key="forgot_email").set_value(email)
    button(forgot, "Send me a link").click().run()
    assert "If this address has an account" in forgot.success[0].value
    token = link_token(mails_to(settings, organization_id, email)[-1], "reset")
    resetting = fresh_browser(reset=token)
    {t.label: t for t in resetting.text_input}["New password"].set_value("the-new-password")
    {t.label: t for t in resetting.text_input}["Once more"].set_value("the-new-password")
    button(resetting, "Set the password").click().run()
    assert resetting.success[0].value == "Your password is changed: sign in with it."
    assert httpx.post(f"{api}/api/v1/auth/login", json={"email": email, "password": "the-new-password"}
                      ).status_code == 200

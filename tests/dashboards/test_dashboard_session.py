"""Keeping a sign-in: the page renews a short-lived access token from the API session, falls back to the sign-in
form once the session is revoked or expired, and the cookie route only turns a fresh one-time ticket into an
HttpOnly cookie, for this origin only."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from streamlit.testing.v1 import AppTest

from dashboards.components import session
from dashboards.components.session_route import route
from tests.dashboards.conftest import REP_LOGIN, ROOT

ENTRY = str(ROOT / "dashboards" / "streamlit_app.py")


def _run(user: session.UserSession) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.session_state[session.SESSION_KEY] = user
    return at.run()


def _shows_sign_in(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    # the sign-in page and nothing else: its forms (sign in, sign up, a reset link), no page, no sidebar
    assert [b.label for b in at.button] == ["Sign in", "Create the account", "Send me a link"] and not at.metric
    assert not at.sidebar.markdown


@pytest.mark.slow
def test_sign_in_starts_a_session_and_the_page_holds_a_short_lived_token(seeded):
    user = session.sign_in(*REP_LOGIN)
    assert user.session_token and user.session_expires_at > datetime.now(UTC) + timedelta(hours=11)
    assert user.expires_at <= datetime.now(UTC) + timedelta(minutes=15)


@pytest.mark.slow
def test_an_expiring_access_token_is_renewed_from_the_session(seeded):
    user = session.sign_in(*REP_LOGIN)
    at = _run(replace(user, expires_at=datetime.now(UTC)))
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Today"
    renewed = at.session_state[session.SESSION_KEY]
    assert renewed.session_token == user.session_token and renewed.token != user.token
    assert renewed.expires_at > datetime.now(UTC) + timedelta(minutes=10)


@pytest.mark.slow
def test_a_revoked_session_shows_the_sign_in_form(seeded):
    user = session.sign_in(*REP_LOGIN)
    session.revoke(user.session_token)
    at = _run(replace(user, expires_at=datetime.now(UTC)))
    _shows_sign_in(at)
    assert any("signed out" in i.value for i in at.info), [i.value for i in at.info]
    assert session.SESSION_KEY not in at.session_state


@pytest.mark.slow
def test_an_expired_password_only_sign_in_shows_the_sign_in_form(seeded):
    at = _run(replace(session.login(*REP_LOGIN), expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    _shows_sign_in(at)
    assert any("expired" in i.value for i in at.info)


@pytest.mark.slow
def test_sign_out_revokes_the_api_session(seeded):
    user = session.sign_in(*REP_LOGIN)
    at = _run(user)
    [sign_out] = [b for b in at.sidebar.button if b.label == "Sign out"]
    sign_out.click().run()
    _shows_sign_in(at)
    with pytest.raises(session.ApiError) as refused:
        session.resume(user.session_token)
    assert refused.value.status == 401


@pytest.fixture
def cookie_client() -> TestClient:
    return TestClient(Starlette(routes=[route]), base_url="http://dash.test")


def test_a_fresh_ticket_becomes_an_http_only_cookie_once(cookie_client):
    expires = datetime.now(UTC) + timedelta(hours=12)
    ticket = session.issue_ticket("signed.session.token", expires)
    response = cookie_client.post(session.SESSION_ROUTE, json={"ticket": ticket},
                                  headers={"Origin": "http://dash.test"})
    assert response.status_code == 204, response.text
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{session.COOKIE_NAME}=signed.session.token;")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert 43_000 < int(cookie.split("Max-Age=")[1].split(";")[0]) <= 43_200
    again = cookie_client.post(session.SESSION_ROUTE, json={"ticket": ticket})
    assert again.status_code == 400 and again.json()["error"]["code"] == "INVALID_TICKET"


def test_stale_unknown_and_malformed_tickets_are_refused(cookie_client, monkeypatch):
    stale = session.issue_ticket("t", datetime.now(UTC) + timedelta(hours=1))
    monkeypatch.setattr(session, "TICKET_TTL_SECONDS", -1)
    for body in ({"ticket": stale}, {"ticket": "unknown"}, {"ticket": 5}, {}, [], "x"):
        response = cookie_client.post(session.SESSION_ROUTE, json=body)
        assert response.status_code == 400, body
        assert response.json()["success"] is False
    broken = cookie_client.post(session.SESSION_ROUTE, content=b"{not json",
                                headers={"Content-Type": "application/json"})
    assert broken.status_code == 400


def test_cross_origin_and_form_posts_are_refused(cookie_client):
    ticket = session.issue_ticket("t", datetime.now(UTC) + timedelta(hours=1))
    evil = cookie_client.post(session.SESSION_ROUTE, json={"ticket": ticket}, headers={"Origin": "http://evil.test"})
    assert evil.status_code == 403 and evil.json()["error"]["code"] == "FORBIDDEN"
    form = cookie_client.post(session.SESSION_ROUTE, data={"ticket": ticket})
    assert form.status_code == 415
    assert "set-cookie" not in evil.headers and "set-cookie" not in form.headers
    # the ticket survived both attempts and still works for the page it was issued to
    assert cookie_client.post(session.SESSION_ROUTE, json={"ticket": ticket}).status_code == 204


def test_delete_clears_the_cookie(cookie_client):
    response = cookie_client.delete(session.SESSION_ROUTE)
    assert response.status_code == 204
    assert response.headers["set-cookie"].startswith(f'{session.COOKIE_NAME}="";') and "Max-Age=0" in \
        response.headers["set-cookie"]

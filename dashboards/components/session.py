"""Sign-in through the platform's API; the token also authorizes actions (e.g. moving a deal).

Staying signed in across reloads and shared links: signing in starts a revocable API session (`POST
/auth/sessions`, 12 hours). Its signed token reaches the browser only as an HttpOnly cookie, set by the
dashboards' own route (`dashboards/server.py`) in exchange for a one-time ticket, so page scripts never see it.
Every new Streamlit session (a reload, a link) reads the cookie from its WebSocket handshake and exchanges it
for a 15-minute access token; an expired or revoked session falls back to the sign-in form. Signing out
revokes the session in the API and deletes the cookie. See docs/dashboards.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import streamlit as st

SESSION_KEY = "revorc_session"
COOKIE_NAME = "revorc_session"
SESSION_ROUTE = "/_revorc/session"
# Streamlit-side state: a ticket for the browser to turn into the cookie, and "signed out here" (the socket's
# handshake still carries the old cookie, which must not sign the user straight back in).
_PENDING_TICKET = "revorc_pending_ticket"
_SIGNED_OUT = "revorc_signed_out"
_CLEAR_COOKIE = "revorc_clear_cookie"
_ENDED = "revorc_session_ended"  # why the last session ended, for the sign-in form
_NEEDS_CODE = "revorc_needs_two_factor"  # the last sign-in asked for a second factor
TICKET_TTL_SECONDS = 60
# an access token this close to its expiry is replaced before the page uses it
_RENEW_MARGIN = timedelta(minutes=1)


@dataclass(frozen=True)
class UserSession:
    token: str
    user_id: str
    organization_id: str
    email: str
    role: str
    full_name: str | None = None
    session_token: str | None = None  # the revocable API session this user is signed in through
    expires_at: datetime | None = None  # of the access token
    session_expires_at: datetime | None = None  # of the API session (known where it was started)

    @property
    def can_write(self) -> bool:
        return self.role != "viewer"

    def expiring(self) -> bool:
        return self.expires_at is not None and self.expires_at - datetime.now(UTC) < _RENEW_MARGIN


def api_url() -> str:
    return os.environ.get("REVORC_API_URL", "http://127.0.0.1:8000").rstrip("/")


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.details = details

    def field_errors(self) -> dict[str, str]:
        """A validation error's message per field (camelCase, as the API names them): what a form shows next to
        each input."""
        details = self.details if isinstance(self.details, dict) else {}
        found = {e["field"]: e["message"] for e in details.get("errors", []) if e.get("field")}
        if not found and details.get("field"):
            found[details["field"]] = self.message
        return found


def api_call(method: str, path: str, *, token: str | None = None, json: Any = None, params: Any = None,
             files: Any = None, raw: bool = False, content: str | None = None,
             content_type: str | None = None) -> Any:
    """The API's JSON answer (`raw`: its bytes, e.g. a CSV export); an `ApiError` with its message otherwise.
    `content` sends a text body as it is (a YAML document), with `content_type`."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if content_type:
        headers["Content-Type"] = content_type
    try:
        response = httpx.request(method, f"{api_url()}/api/v1{path}", json=json, params=params, files=files,
                                 content=content.encode() if content is not None else None,
                                 headers=headers, timeout=30 if files else 15)
    except httpx.HTTPError as exc:
        raise ApiError(0, f"The API at {api_url()} is not reachable ({exc.__class__.__name__}).") from None
    if response.status_code >= 400:
        code = details = None
        try:
            error = response.json()["error"]
            message, code, details = error.get("message") or error.get("code"), error.get("code"), error.get("details")
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        raise ApiError(response.status_code, message, code=code, details=details)
    if raw:
        return response.content
    return response.json() if response.content else None


def _user_session(body: dict[str, Any], session_token: str | None = None) -> UserSession:
    user = body["user"]
    expires = body.get("expiresAt")
    return UserSession(token=body["accessToken"], user_id=user["id"], organization_id=user["organizationId"],
                       email=user["email"], role=user["role"], full_name=user.get("fullName"),
                       session_token=session_token, expires_at=datetime.fromisoformat(expires) if expires else None)


def login(email: str, password: str, totp_code: str | None = None) -> UserSession:
    """Password sign-in alone (an access token, no session to keep): what the page tests use."""
    body = {"email": email, "password": password, **({"totpCode": totp_code} if totp_code else {})}
    return _user_session(api_call("POST", "/auth/login", json=body))


def resume(session_token: str) -> UserSession:
    """The user of a live API session, with a fresh short-lived access token; ApiError 401 once it is over."""
    body = api_call("POST", "/auth/sessions/refresh", json={"sessionToken": session_token})
    return _user_session(body, session_token)


def sign_in(email: str, password: str, totp_code: str | None = None) -> UserSession:
    """Password sign-in that starts a revocable session; the page holds only the session's short-lived token."""
    return session_for(login(email, password, totp_code))


def session_for(signed_in: UserSession) -> UserSession:
    """A revocable session for a user just signed in (password, SSO, sign-up, an accepted invitation)."""
    started = api_call("POST", "/auth/sessions", token=signed_in.token)
    return replace(resume(started["sessionToken"]), session_expires_at=datetime.fromisoformat(started["expiresAt"]))


def signed_in_as(body: dict[str, Any]) -> UserSession:
    """The API's sign-in answer (`TokenResponse`) as a session of the dashboards."""
    return session_for(_user_session(body))


def sign_in_with_sso(code: str) -> UserSession:
    """The one-time code an SSO sign-in came back with (`?sso_code=`), exchanged for a revocable session."""
    return signed_in_as(api_call("POST", "/auth/sso/exchange", json={"code": code}))


def revoke(session_token: str) -> None:
    api_call("POST", "/auth/sessions/revoke", json={"sessionToken": session_token})


# One-time tickets: the signed-in Streamlit session hands the browser a ticket (never the token), the browser
# posts it to SESSION_ROUTE, and the route sets the HttpOnly cookie. In memory: the route and the script run in
# the same process (`dashboards/server.py`).
_tickets: dict[str, tuple[str, datetime, float]] = {}
_tickets_lock = threading.Lock()


def issue_ticket(session_token: str, expires_at: datetime) -> str:
    ticket = secrets.token_urlsafe(32)
    now = time.monotonic()
    with _tickets_lock:
        for stale in [t for t, (_, _, issued) in _tickets.items() if now - issued > TICKET_TTL_SECONDS]:
            del _tickets[stale]
        _tickets[ticket] = (session_token, expires_at, now)
    return ticket


def redeem_ticket(ticket: str) -> tuple[str, datetime] | None:
    """The session token and its expiry for a ticket issued in the last minute, once; else None."""
    with _tickets_lock:
        found = _tickets.pop(ticket, None)
    if found is None or time.monotonic() - found[2] > TICKET_TTL_SECONDS:
        return None
    return found[0], found[1]


def current() -> UserSession | None:
    return st.session_state.get(SESSION_KEY)


def _browser_call(method: str, body: dict[str, Any] | None = None) -> None:
    """Have the browser call SESSION_ROUTE (same origin, so the response's Set-Cookie applies to it)."""
    options = {"method": method, "credentials": "same-origin"}
    if body is not None:
        options |= {"headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
    st.html(f"<script>fetch({json.dumps(SESSION_ROUTE)}, {json.dumps(options)});</script>",
            unsafe_allow_javascript=True)


def _restore(session: UserSession | None) -> tuple[UserSession | None, str | None]:
    """The session kept in this Streamlit session or in the browser's cookie, renewed if its access token is
    (nearly) expired; with the reason when there was one and it is over."""
    token = session.session_token if session is not None else None
    if token is None and not st.session_state.get(_SIGNED_OUT):
        cookie = st.context.cookies.get(COOKIE_NAME)
        token = cookie if isinstance(cookie, str) and cookie else None  # AppTest has no browser: no cookies
    if token is None:
        return None, None
    try:
        return resume(token), None
    except ApiError as exc:
        if exc.status in (401, 403):
            st.session_state[_CLEAR_COOKIE] = True
            return None, f"{exc.message[:1].upper()}{exc.message[1:]}."
        return None, exc.message


def current_user() -> UserSession | None:
    """The signed-in user of this Streamlit session, restored from the session cookie on a new one (a reload, a
    link) and renewed when its access token is about to expire; None when nobody is signed in."""
    session = current()
    if session is not None and not session.expiring():
        _set_cookie_if_pending()
        return session
    st.session_state.pop(SESSION_KEY, None)
    if session is None or session.session_token is not None:
        session, ended = _restore(session)
        if session is not None:
            st.session_state[SESSION_KEY] = session
            return session
    else:
        ended = "Your sign-in has expired."
    st.session_state[_ENDED] = ended
    return None


def sign_in_form() -> None:
    """The sign-in form and nothing else on the page (stops the script). The URL is left alone: a deep link
    opens its page once signed in."""
    if st.session_state.pop(_CLEAR_COOKIE, False):
        _browser_call("DELETE")
    st.title("AIRevenueOrc")
    st.caption("Sign in with your platform account.")
    ended = st.session_state.pop(_ENDED, None)
    if ended:
        st.info(ended)
    sso_code = st.query_params.get("sso_code")
    if sso_code:
        # back from the identity provider (GET /auth/sso/{provider}/login?returnTo=<this page>)
        del st.query_params["sso_code"]
        try:
            _start(sign_in_with_sso(sso_code))
        except ApiError as exc:
            st.error(f"Single sign-on did not complete: {exc.message}")
    from dashboards.components import account_forms  # the account flows reuse this module's calls

    account_forms.from_link()  # an invitation, address-confirmation or password-reset link (may stop here)
    sign_in_tab, signup_tab, forgot_tab = st.tabs(["Sign in", "Create an account", "Forgot your password?"])
    with sign_in_tab:
        needs_code = st.session_state.get(_NEEDS_CODE, False)
        with st.form("login"):
            email = st.text_input("E-mail")
            password = st.text_input("Password", type="password")
            code = st.text_input("Two-factor code", help="From your authenticator app, or a recovery code") \
                if needs_code else None
            submitted = st.form_submit_button("Sign in")
        if submitted:
            try:
                session = sign_in(email, password, code or None)
            except ApiError as exc:
                if exc.code == "TWO_FACTOR_REQUIRED" and not needs_code:
                    st.session_state[_NEEDS_CODE] = True
                    st.rerun()
                st.error(exc.message if exc.status else f"Cannot sign in: {exc.message}")
            else:
                st.session_state.pop(_NEEDS_CODE, None)
                _start(session)
    with signup_tab:
        account_forms.signup()
    with forgot_tab:
        account_forms.forgot_password()
    st.stop()


def start(session: UserSession) -> None:
    """Sign this browser in with a session just made (the account flows' last step)."""
    _start(session)


def _start(session: UserSession) -> None:
    st.session_state[SESSION_KEY] = session
    st.session_state.pop(_SIGNED_OUT, None)
    st.session_state[_PENDING_TICKET] = issue_ticket(session.session_token, session.session_expires_at)
    st.rerun()


def require_login() -> UserSession:
    """The signed-in user, or a sign-in form (and nothing else) on the page."""
    user = current_user()
    if user is None:
        sign_in_form()
    return user


def _set_cookie_if_pending() -> None:
    ticket = st.session_state.pop(_PENDING_TICKET, None)
    if ticket is not None:
        _browser_call("POST", {"ticket": ticket})


def logout() -> None:
    """Sign out: the API session is revoked (its cookie then restores nothing anywhere) and the cookie deleted."""
    session = st.session_state.pop(SESSION_KEY, None)
    if session is not None and session.session_token is not None:
        # if the API cannot be reached the session still ends at its expiry; the cookie is deleted either way
        with contextlib.suppress(ApiError):
            revoke(session.session_token)
    st.session_state[_SIGNED_OUT] = True
    st.session_state[_CLEAR_COOKIE] = True

"""Sign-in through the platform's API; the token also authorizes actions (e.g. moving a deal)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import httpx
import streamlit as st

SESSION_KEY = "revorc_session"


@dataclass(frozen=True)
class UserSession:
    token: str
    user_id: str
    organization_id: str
    email: str
    role: str
    full_name: str | None = None

    @property
    def can_write(self) -> bool:
        return self.role != "viewer"


def api_url() -> str:
    return os.environ.get("REVORC_API_URL", "http://127.0.0.1:8000").rstrip("/")


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def api_call(method: str, path: str, *, token: str | None = None, json: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.request(method, f"{api_url()}/api/v1{path}", json=json, headers=headers, timeout=15)
    except httpx.HTTPError as exc:
        raise ApiError(0, f"The API at {api_url()} is not reachable ({exc.__class__.__name__}).") from None
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            message = error.get("message") or error.get("code")
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        raise ApiError(response.status_code, message)
    return response.json() if response.content else None


def login(email: str, password: str) -> UserSession:
    body = api_call("POST", "/auth/login", json={"email": email, "password": password})
    user = body["user"]
    return UserSession(token=body["accessToken"], user_id=user["id"], organization_id=user["organizationId"],
                       email=user["email"], role=user["role"], full_name=user.get("fullName"))


def current() -> UserSession | None:
    return st.session_state.get(SESSION_KEY)


def require_login() -> UserSession:
    """The signed-in user, or a sign-in form (and nothing else) on the page."""
    session = current()
    if session is not None:
        return session
    st.title("AIRevenueOrc")
    st.caption("Sign in with your platform account.")
    with st.form("login"):
        email = st.text_input("E-mail")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        try:
            st.session_state[SESSION_KEY] = login(email, password)
        except ApiError as exc:
            st.error(exc.message if exc.status else f"Cannot sign in: {exc.message}")
        else:
            st.rerun()
    st.stop()


def logout() -> None:
    st.session_state.pop(SESSION_KEY, None)

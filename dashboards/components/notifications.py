"""The notification bell and the calls of the notification centre: everything through the API with the signed-in
user's token (the API shows each user only their own notifications). No cache: the count is the user's own and
changes as they read."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboards.components import session

PAGE = "app_pages/notifications.py"


def unread_count(user: session.UserSession) -> int | None:
    """None when the API cannot be asked (the bell then stays quiet rather than breaking every page)."""
    try:
        return int(session.api_call("GET", "/notifications/unread-count", token=user.token)["unreadCount"])
    except (session.ApiError, KeyError, TypeError, ValueError):
        return None


def bell(user: session.UserSession) -> None:
    count = unread_count(user)
    label = "Notifications" if not count else f"Notifications ({count} unread)"
    st.page_link(PAGE, label=label, icon=":material/notifications_active:" if count else
                 ":material/notifications:")


def listing(user: session.UserSession, *, unread_only: bool, priority: list[str], limit: int = 50) -> dict[str, Any]:
    params = [f"limit={limit}"]
    if unread_only:
        params.append("unread=true")
    if priority:
        params.append("priority=" + ",".join(priority))
    return session.api_call("GET", "/notifications?" + "&".join(params), token=user.token)


def act(user: session.UserSession, method: str, path: str, body: Any = None) -> Any:
    return session.api_call(method, f"/notifications{path}", token=user.token, json=body)

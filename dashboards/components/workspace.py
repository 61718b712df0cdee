"""What the rep's pages share: calls to the API as the signed-in user, a flash message that survives the rerun
after an action, and labels people read instead of codes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import streamlit as st

from dashboards.components import session

FLASH = "workspace_flash"
# the API's enums (serving.prospects.models) in the words a rep reads
STATUS = {"new": "New", "contacted": "Contacted", "engaged": "Engaged", "qualified": "Qualified",
          "unqualified": "Unqualified", "nurture": "Nurture", "converted": "Converted",
          "do_not_contact": "Do not contact"}
TIERS = {"burning": "Burning", "hot": "Hot", "warm": "Warm", "low": "Low"}


def call(method: str, path: str, **kwargs: Any) -> Any:
    return session.api_call(method, path, token=session.current().token, **kwargs)


def call_many(*requests: tuple[str, dict | None]) -> list[Any]:
    """Several GETs (path, params) at once, as the signed-in user: a page waits for the slowest instead of their sum.
    Each result is the API's answer or the `ApiError` it raised (the caller decides what a failure shows)."""
    token = session.current().token  # read here: the worker threads have no Streamlit context

    def one(request: tuple[str, dict | None]) -> Any:
        path, params = request
        try:
            return session.api_call("GET", path, token=token, params=params)
        except session.ApiError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=min(8, max(len(requests), 1))) as pool:
        return list(pool.map(one, requests))


def flash(kind: str, text: str) -> None:
    st.session_state[FLASH] = (kind, text)


def show_flash() -> None:
    if FLASH in st.session_state:
        kind, text = st.session_state.pop(FLASH)
        (st.success if kind == "success" else st.error)(text)


def act(done: str, method: str, path: str, **kwargs: Any) -> Any | None:
    """One action through the API; its result or None, with the outcome flashed after the rerun."""
    try:
        result = call(method, path, **kwargs)
    except session.ApiError as exc:
        flash("error", f"{exc.message}")
        return None
    flash("success", done)
    return result


def person(prospect: dict) -> str:
    name = " ".join(p for p in (prospect.get("firstName"), prospect.get("lastName")) if p)
    return name or prospect["email"]


def label(value: str | None) -> str:
    return (value or "—").replace("_", " ").capitalize()


def fetch_record(kind: str, param: str, *paths: str, back: str = "Back to the list") -> list[Any] | None:
    """A record page's reads; when the API refuses (gone, another organization's), the reason and a way back to
    the list (the `?<param>=` that opened it is dropped) instead."""
    try:
        return [call("GET", path) for path in paths]
    except session.ApiError as exc:
        st.error(f"This {kind} cannot be shown: {exc.message}")
        if st.button(back):
            st.query_params.pop(param, None)
            st.rerun()
        return None

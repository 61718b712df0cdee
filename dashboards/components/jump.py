"""The search box on every page: universal search (`GET /search`) through the API as the signed-in user; each hit
links to its record in the workspace (a prospect, an account, a deal). Quiet when search is unavailable."""

from __future__ import annotations

import streamlit as st

from dashboards.components import session

TARGETS = {"prospects": ("app_pages/prospects.py", "prospect", ":material/person:"),
           "accounts": ("app_pages/accounts.py", "account", ":material/domain:"),
           "deals": ("app_pages/deals.py", "deal", ":material/handshake:")}


def box(user: session.UserSession) -> None:
    q = st.text_input("Search", placeholder="anyone, any company, any deal", key="jump_q",
                      label_visibility="collapsed")
    if not q or len(q) < 2:
        return
    try:
        found = session.api_call("GET", "/search", token=user.token,
                                 params={"q": q, "types": ",".join(TARGETS), "perPage": 5})
    except session.ApiError as exc:
        st.caption(f"Search is unavailable: {exc.message}")
        return
    shown = 0
    for kind, (page, param, icon) in TARGETS.items():
        for hit in found.get(kind) or []:
            st.page_link(page, label=hit.get("title") or kind[:-1], query_params={param: str(hit["id"])}, icon=icon)
            shown += 1
    if not shown:
        st.caption("Nothing found.")

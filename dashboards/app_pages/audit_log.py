"""Audit log (admins): who did what and when, filtered by person, action, record and time, with the export of
what the filters match — through the API (`/audit-log`) as the signed-in admin."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import pandas as pd
import streamlit as st

from dashboards.components import formatting, session
from dashboards.components.workspace import call, label

user = session.current()
st.title("Audit log")
if user.role != "admin":  # not listed for others; a link still lands here
    st.info("Only admins read the audit log.", icon=":material/lock:")
    st.stop()
PAGE_SIZE = 50

members = [m for active in ("true", "false")  # removed members' actions stay in the log
           for m in call("GET", "/team/members", params={"limit": 100, "active": active})["data"]]
people = {m["id"]: m["fullName"] or m["email"] for m in members}
a, b, c, d = st.columns([2, 2, 2, 2])
actor = a.selectbox("Who", [None, *people], format_func=lambda v: "Anyone" if v is None else people[v],
                    key="audit_actor")
action = b.text_input("Action", key="audit_action", placeholder="e.g. change_role, delete")
entity = c.text_input("Record type", key="audit_entity", placeholder="e.g. prospect, user")
days = d.selectbox("When", [1, 7, 30, 90, None], index=2, key="audit_days",
                   format_func=lambda n: "Any time" if n is None else f"Last {n} days")
params = {"actorUserId": actor, "action": action or None, "entityType": entity or None}
if days:
    params["since"] = datetime.combine(datetime.now(UTC).date() - timedelta(days=days), time(), UTC).isoformat()
params = {k: v for k, v in params.items() if v}
signature = repr(sorted(params.items()))
if st.session_state.get("audit_filters") != signature:
    st.session_state["audit_filters"], st.session_state["audit_page"] = signature, 1
page = call("GET", "/audit-log", params={**params, "limit": PAGE_SIZE, "page": st.session_state["audit_page"]})
rows = page["data"]
if not rows:
    st.info("Nothing recorded for these filters.", icon=":material/history:")
else:
    st.dataframe(pd.DataFrame([{
        "When": formatting.when(r["createdAt"]), "Who": r["actorEmail"] or ("API key" if r["actorApiKeyId"] else "—"),
        "Action": label(r["action"]), "Record": f"{label(r['entityType'])} {r['entityId'] or ''}".strip(),
        "What changed": json.dumps(r["changes"], sort_keys=True)[:300] if r["changes"] else "",
        "From": r["ipAddress"] or "",
    } for r in rows]), hide_index=True, width="stretch")
    meta = page["pagination"]
    prev_col, info_col, next_col = st.columns([1, 3, 1])
    if prev_col.button("Previous", disabled=meta["page"] <= 1):
        st.session_state["audit_page"] -= 1
        st.rerun()
    info_col.caption(f"Page {meta['page']} of {max(meta['pages'], 1)} · {meta['total']:,} records")
    if next_col.button("Next", disabled=meta["page"] >= meta["pages"]):
        st.session_state["audit_page"] += 1
        st.rerun()
    if st.button("Export these records as CSV", icon=":material/download:"):
        st.session_state["audit_csv"] = call("GET", "/audit-log/export", params=params, raw=True)
    if st.session_state.get("audit_csv"):
        st.download_button("Download audit-log.csv", st.session_state["audit_csv"], file_name="audit-log.csv",
                           mime="text/csv", on_click="ignore")

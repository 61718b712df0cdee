"""Integrations: the marketplace (what works here, honestly), the installed integrations with their health, usage
and sync logs, and for admins install (API key, or the provider's OAuth page), settings, sync now and uninstall;
the enrichment providers with this month's spend, and for admins their keys, order, cost and cap — through the API
as the signed-in user (docs/integrations.md, docs/enrichment.md)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.components import charts, formatting, session, workspace
from dashboards.components.workspace import call, label

user = session.current()
admin = user.role == "admin"
st.title("Integrations")
workspace.show_flash()
SLACK_EVENTS = ["deal.won", "deal.lost", "deal.stage_changed", "bdr.handoff_ready", "meeting.scheduled",
                "email.replied", "intent.spike_detected", "prospect.qualified"]

try:
    market = call("GET", "/integrations/marketplace", params={"limit": 100})["data"]
    installed = call("GET", "/integrations", params={"limit": 100})["data"]
except session.ApiError as exc:
    st.error(f"Cannot load integrations: {exc.message}")
    st.stop()
names = {m["key"]: m["name"] for m in market}

st.subheader("Installed")
if not installed:
    st.info("Nothing installed yet: pick an available integration below.", icon=":material/extension:")
for row in installed:
    with st.container(border=True):
        status = call("GET", f"/integrations/{row['id']}/status")
        head, health = st.columns([4, 1])
        head.markdown(f"**{names.get(row['provider'], row['provider'])}** · {label(status['status'])}"
                      + (f" · last sync {formatting.when(status['lastSyncAt'])} ({label(status['lastSyncStatus'])})"
                         if status["lastSyncAt"] else ""))
        if status["lastError"]:
            head.caption(f":orange[{status['lastError']}]")
        health.metric("Health", status["healthScore"], help="100 minus the error rate, slow calls and auth trouble "
                                                            "over the last 24 hours")
        usage = call("GET", f"/integrations/{row['id']}/analytics", params={"days": 30})["days"]
        if usage:
            days = pd.DataFrame(usage).assign(day=lambda f: pd.to_datetime(f["day"]))
            st.altair_chart(charts.lines(days, x="day", series=["calls", "errors"], height=160), width="stretch")
        logs = call("GET", f"/integrations/{row['id']}/sync-logs", params={"limit": 5})["data"]
        if logs:
            st.dataframe(pd.DataFrame([{"started": formatting.when(g["startedAt"]), "status": label(g["status"]),
                                        "read": g["readCount"], "created": g["createdCount"],
                                        "updated": g["updatedCount"], "failed": g["failedCount"],
                                        "error": g["error"] or ""} for g in logs]), hide_index=True, width="stretch")
        if not admin:
            continue
        with st.expander("Settings"), st.form(f"integration_settings_{row['id']}"):
            config = row["config"]
            values: dict = {}
            if row["provider"] == "slack":
                values["channel"] = st.text_input("Channel", config.get("channel") or "") or None
                values["events"] = st.multiselect("Post these events", SLACK_EVENTS,
                                                  default=[e for e in config.get("events", [])
                                                           if e in SLACK_EVENTS])
            interval = st.number_input("Sync every (minutes; 0 = only by hand)", 0, 10_080,
                                       int(config.get("syncIntervalMinutes") or 0))
            if interval:
                values["syncIntervalMinutes"] = int(interval)
            if st.form_submit_button("Save"):
                workspace.act("Settings saved.", "PUT", f"/integrations/{row['id']}/settings",
                              json={"config": {k: v for k, v in values.items() if v is not None}})
                st.rerun()
        sync, remove = st.columns(2)
        if sync.button("Sync now", key=f"sync_{row['id']}", icon=":material/sync:"):
            workspace.act("Sync requested: the worker runs it.", "POST", f"/integrations/{row['id']}/sync")
            st.rerun()
        if remove.button("Uninstall", key=f"uninstall_{row['id']}", icon=":material/delete:"):
            workspace.act(f"{names.get(row['provider'], row['provider'])} uninstalled.", "DELETE",
                          f"/integrations/{row['id']}")
            st.rerun()

st.subheader("Marketplace")
frame = pd.DataFrame([{"integration": m["name"], "category": label(m["category"]), "status": label(m["status"]),
                       "installed": "yes" if m["installedId"] else "set up under enrichment providers"
                       if m["setupPath"] else "", "about": m["description"]} for m in market])
st.dataframe(frame, hide_index=True, width="stretch")
if admin:
    available = [m for m in market if m["status"] == "available" and not m["installedId"] and not m["setupPath"]]
    if available:
        with st.form("integration_install"):
            key = st.selectbox("Install", [m["key"] for m in available], format_func=names.get)
            api_key = st.text_input("API key or token (API-key integrations)", type="password")
            if st.form_submit_button("Install"):
                result = workspace.act("Install started: finish it at the provider if asked.", "POST",
                                       "/integrations/install", json={"provider": key, "apiKey": api_key or None})
                if result and result.get("authorizationUrl"):
                    st.session_state["integration_authorize"] = result["authorizationUrl"]
                st.rerun()
    if st.session_state.get("integration_authorize"):
        st.link_button("Continue at the provider to authorize", st.session_state.pop("integration_authorize"),
                       icon=":material/open_in_new:")

st.subheader("Enrichment providers")
st.caption("The waterfall asks the enabled providers in priority order (lowest first) and keeps, field by field, the "
           "first validated value; answers are reused for a month, so a repeated lookup costs nothing.")
PROVIDER_NAMES = {"clearbit": "Clearbit", "zoominfo": "ZoomInfo", "apollo": "Apollo.io", "hunter": "Hunter",
                  "pdl": "People Data Labs"}
try:
    providers = call("GET", "/enrichment/providers")["data"]
    spend = call("GET", "/enrichment/usage")["data"]
except session.ApiError as exc:
    st.error(f"Cannot load enrichment settings: {exc.message}")
    st.stop()
if providers:
    st.dataframe(pd.DataFrame([{
        "provider": PROVIDER_NAMES.get(p["provider"], p["provider"]), "enabled": "yes" if p["enabled"] else "no",
        "priority": p["priority"], "key": p["keyHint"] or "none",
        "cost per request": f"${p['costCentsPerRequest'] / 100:,.2f}",
        "monthly cap": f"${p['monthlyCapCents'] / 100:,.2f}" if p["monthlyCapCents"] is not None else "none",
    } for p in providers]), hide_index=True, width="stretch")
else:
    st.info("No enrichment provider set up: prospects created with enrichment on are left as they are.",
            icon=":material/person_search:")
if spend:
    usage = pd.DataFrame([{"provider": PROVIDER_NAMES.get(u["provider"], u["provider"]), "requests": u["requests"],
                           "served from cache": u["cacheHits"], "matches": u["matches"],
                           "spent": u["costCents"] / 100} for u in spend])
    left, right = st.columns(2)
    left.caption("This month's spend per provider")
    left.altair_chart(charts.bars(usage, x="provider", y="spent", y_format="$,.2f", height=180), width="stretch")
    right.caption("Requests, cache hits and matches this month")
    right.dataframe(usage.drop(columns="spent"), hide_index=True, width="stretch")
if admin:
    with st.form("enrichment_provider"):
        known = {p["provider"]: p for p in providers}
        key = st.selectbox("Provider", list(PROVIDER_NAMES), format_func=PROVIDER_NAMES.get)
        current = known.get(key, {})
        enabled = st.checkbox("Enabled", value=current.get("enabled", True))
        priority = st.number_input("Priority (lower is asked first)", 0, 10_000, int(current.get("priority", 100)))
        api_key = st.text_input("API key (empty keeps the stored one)", type="password")
        cost = st.number_input("Cost per request (cents)", 0, 1_000_000, int(current.get("costCentsPerRequest", 0)))
        cap = st.number_input("Monthly cap (cents; 0 = none)", 0, 1_000_000_000,
                              int(current.get("monthlyCapCents") or 0))
        if st.form_submit_button("Save provider"):
            body = {"enabled": enabled, "priority": int(priority), "costCentsPerRequest": int(cost),
                    "monthlyCapCents": int(cap) or None}
            if api_key:
                body["apiKey"] = api_key
            workspace.act(f"{PROVIDER_NAMES[key]} saved.", "PUT", f"/enrichment/providers/{key}", json=body)
            st.rerun()

"""Flows: the organization's integration flows — list, create or update from a YAML document, enable/disable, run
now, and watch executions with their step-by-step log — through the API as the signed-in user (everyone reads;
admins change and run)."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from dashboards.components import session, workspace
from dashboards.components.workspace import call, label

EDITING = "flows_yaml"
EXAMPLE = """apiVersion: revorc.dev/flows/v1
kind: Flow
metadata:
  name: Tell the ERP about deals in negotiation
  description: an example to adapt
spec:
  enabled: false
  trigger:
    type: record_change
    event: deal.stage_changed
    filter: {toStage: negotiation}
  steps:
  - id: post
    type: http_request
    url: https://erp.example.com/hooks/deals
    body: {name: "{{ deal.name }}", amount: "{{ deal.amount }}"}
    retry: {maxAttempts: 3, backoffSeconds: 5}
"""

user = session.current()
admin = user.role == "admin"
st.title("Flows")
st.caption("Automations: a trigger (record change, schedule, webhook, manual) and steps with `{{ mappings }}`. "
           "Each flow is also a YAML document you can keep in git (see docs/flows.md).")
workspace.show_flash()

try:
    flows = call("GET", "/flows", params={"limit": 100})["data"]
except session.ApiError as exc:
    st.error(f"Cannot load flows: {exc.message}")
    st.stop()


def _trigger(flow: dict) -> str:
    trigger = flow["trigger"]
    detail = {"record_change": trigger.get("event"), "schedule": trigger.get("cron")}.get(trigger["type"])
    return label(trigger["type"]) + (f" · {detail}" if detail else "")


if not flows:
    st.info("No flows yet." + (" Create one from a YAML document below." if admin else ""),
            icon=":material/account_tree:")
for flow in flows:
    with st.container(border=True):
        head, state = st.columns([4, 1])
        head.markdown(f"**{flow['name']}** · v{flow['version']} · {_trigger(flow)}")
        if flow["description"]:
            head.caption(flow["description"])
        state.markdown("Enabled" if flow["enabled"] else "Disabled")
        if flow["nextRunAt"]:
            head.caption(f"Next run {flow['nextRunAt'][:16].replace('T', ' ')} UTC")
        a, b, c, d = st.columns(4)
        if admin:
            if flow["enabled"]:
                if a.button("Disable", key=f"disable_{flow['id']}", icon=":material/pause:"):
                    workspace.act(f"“{flow['name']}” disabled.", "POST", f"/flows/{flow['id']}/disable")
                    st.rerun()
            elif a.button("Enable", key=f"enable_{flow['id']}", icon=":material/play_arrow:"):
                workspace.act(f"“{flow['name']}” enabled.", "POST", f"/flows/{flow['id']}/enable")
                st.rerun()
            if b.button("Run now", key=f"run_{flow['id']}", icon=":material/bolt:"):
                workspace.act(f"“{flow['name']}” queued: the worker runs it.", "POST", f"/flows/{flow['id']}/run",
                              json={"payload": {}})
                st.rerun()
            if c.button("Edit", key=f"edit_{flow['id']}", icon=":material/edit:"):
                st.session_state[EDITING] = call("GET", f"/flows/{flow['id']}/export", raw=True).decode()
                st.rerun()
        if d.toggle("Executions", key=f"executions_{flow['id']}"):
            try:
                runs = call("GET", f"/flows/{flow['id']}/executions", params={"limit": 20})["data"]
            except session.ApiError as exc:
                st.caption(exc.message)
                continue
            if not runs:
                st.caption("No executions yet.")
                continue
            table = pd.DataFrame([{"created": r["createdAt"][:19].replace("T", " "), "trigger": r["triggerType"],
                                   "status": r["status"], "version": r["flowVersion"], "error": r["error"] or ""}
                                  for r in runs])
            st.dataframe(table, hide_index=True, width="stretch")
            names = {r["id"]: f"{r['createdAt'][:19].replace('T', ' ')} · {r['status']}" for r in runs}
            chosen = st.selectbox("Step log of", list(names), key=f"log_{flow['id']}", format_func=names.get)
            detail = call("GET", f"/flows/{flow['id']}/executions/{chosen}")
            st.dataframe(pd.DataFrame([{
                "step": e["path"], "id": e["stepId"], "type": e["type"],
                "attempt": f"{e['attempt']}/{e['maxAttempts']}", "iteration": e.get("iteration"),
                "ms": e.get("durationMs"), "error": e.get("error") or "",
                "input": json.dumps(e.get("input"), default=str)[:300],
                "output": json.dumps(e.get("output"), default=str)[:300]} for e in detail["log"]]),
                hide_index=True, width="stretch")

if admin:
    st.subheader("Create or update a flow")
    st.caption("Paste or edit a flow document; a flow with the same name is updated (a new version when it "
               "changed), otherwise a new one is created.")
    with st.form("flow_yaml"):
        document = st.text_area("Flow (YAML)", value=st.session_state.get(EDITING) or EXAMPLE, height=360)
        if st.form_submit_button("Save flow"):
            try:
                saved = call("POST", "/flows/import", content=document, content_type="application/yaml")
            except session.ApiError as exc:
                errors = exc.field_errors()
                workspace.flash("error", exc.message + ("".join(f"\n- {f}: {m}" for f, m in errors.items())
                                                        if len(errors) > 1 else ""))
            else:
                st.session_state.pop(EDITING, None)
                verb = "created" if saved["created"] else f"saved as version {saved['version']}"
                hook = f" Its hook URL (shown once): {saved['hookUrl']}" if saved.get("hookUrl") else ""
                workspace.flash("success", f"“{saved['name']}” {verb}.{hook}")
            st.rerun()

"""The BDR agent's console: the drafts waiting for a human (read the draft and its checker result, edit, approve,
reject with a reason), the handoffs to take over, why the agent did what it did with a prospect, how it performs,
its messaging experiments, and — for admins — its configuration and the backtest that gates sending without review.
Everything through the API as the signed-in user (docs/bdr.md)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.components import charts, formatting, session, workspace
from dashboards.components.formatting import pct
from dashboards.components.workspace import label, person

user = session.current()
admin = user.role == "admin"
st.title("BDR agent")
workspace.show_flash()

config, approvals, handoffs, perf, variants = workspace.call_many(
    ("/bdr/config", None), ("/bdr/approvals", {"status": "pending", "limit": 20}),
    ("/bdr/handoffs", {"status": "pending", "limit": 20}), ("/bdr/performance", None),
    ("/bdr/variants", {"limit": 50}))
for result in (config, approvals, handoffs, perf, variants):
    if isinstance(result, session.ApiError):
        st.error(f"The agent's data cannot be read: {result.message}")
        st.stop()

state = "on" if config["enabled"] else "off"
st.caption(f"{config['agentName']} is **{state}** · approval mode: {label(config['approvalMode'])} · "
           f"{perf['pendingApprovals']} drafts waiting")

_prospects: dict[str, dict] = {}


def prospects(ids: list[str]) -> dict[str, dict]:
    """The prospects these rows are about, read once each (at once)."""
    wanted = [i for i in dict.fromkeys(ids) if i not in _prospects]
    for pid, row in zip(wanted, workspace.call_many(*((f"/prospects/{i}", None) for i in wanted)), strict=True):
        _prospects[pid] = {} if isinstance(row, session.ApiError) else row
    return _prospects


def prospect_link(prospect_id: str) -> None:
    p = _prospects.get(prospect_id) or {}
    text = f"{person(p)} · {p.get('title') or '—'}, {p.get('company') or '—'}" if p else "the prospect"
    st.page_link("app_pages/prospects.py", label=text, query_params={"prospect": prospect_id},
                 icon=":material/person:")


approvals_tab, handoffs_tab, log_tab, perf_tab, experiments_tab, settings_tab = st.tabs(
    [f"Approvals ({approvals['pagination']['total']})", f"Handoffs ({handoffs['pagination']['total']})",
     "Decision log", "Performance", "Experiments", "Settings"])

with approvals_tab:
    rows = approvals["data"]
    if not rows:
        st.info("No drafts are waiting for review.", icon=":material/task_alt:")
    prospects([a["prospectId"] for a in rows])
    drafts = workspace.call_many(*((f"/ai/emails/drafts/{a['draftId']}", None) for a in rows))
    for entry, draft in zip(rows, drafts, strict=True):
        with st.container(border=True):
            prospect_link(entry["prospectId"])
            st.caption(f"{label(entry['purpose'])} · queued {formatting.when(entry['createdAt'])}")
            if isinstance(draft, session.ApiError):
                st.warning(f"The draft cannot be read: {draft.message}")
                continue
            check = draft["check"]
            if check["passed"]:
                st.markdown(":green[Checker passed]" + (f" · {len(draft['facts'])} sourced facts"
                                                         if draft["facts"] else ""))
            else:
                st.markdown(":red[Checker failed:] " + "; ".join(f["message"] for f in check["failures"]))
            with st.form(f"approval_{entry['id']}"):
                subject = st.text_input("Subject", draft["subject"], key=f"subject_{entry['id']}")
                body = st.text_area("Body", draft["body"], height=220, key=f"body_{entry['id']}")
                reason = st.text_input("Reason (to reject)", key=f"reason_{entry['id']}")
                send, drop = st.columns(2)
                if send.form_submit_button("Approve and send", type="primary"):
                    edits = {k: v for k, v in (("subject", subject), ("body", body)) if v != draft[k]}
                    workspace.act("Sent" + (" with your edits." if edits else "."), "POST",
                                  f"/bdr/approvals/{entry['id']}/approve", json=edits or None)
                    st.rerun()
                if drop.form_submit_button("Reject"):
                    if not reason.strip():
                        workspace.flash("error", "Say why you reject it: the agent learns from the reason.")
                    else:
                        workspace.act("Rejected.", "POST", f"/bdr/approvals/{entry['id']}/reject",
                                      json={"reason": reason.strip()})
                    st.rerun()

with handoffs_tab:
    show = st.segmented_control("Show", ["pending", "accepted"], default="pending", key="bdr_handoff_status")
    listed = handoffs if show == "pending" else workspace.call(
        "GET", "/bdr/handoffs", params={"status": show or "pending", "limit": 20})
    if not listed["data"]:
        st.info("No handoffs here.", icon=":material/handshake:")
    prospects([h["prospectId"] for h in listed["data"]])
    for h in listed["data"]:
        with st.container(border=True):
            prospect_link(h["prospectId"])
            st.markdown(h["summary"])
            criteria = pd.DataFrame([{"criterion": label(name), "met": "yes" if c["met"] else "no",
                                      "evidence": " · ".join(e["text"] for e in c["evidence"]) or "—"}
                                     for name, c in h["qualification"].items()])
            st.caption(f"{h['framework']} · handed off {formatting.when(h['createdAt'])}")
            st.dataframe(criteria, hide_index=True, width="stretch")
            with st.expander("The conversation"):
                for turn in h["conversation"]:
                    st.markdown(f"**{label(turn.get('kind'))}** · {formatting.when(turn.get('at'))}"
                                + (f"  \n{turn['text']}" if turn.get("text") else ""))
            if h["status"] == "pending" and st.button("Accept: I take it from here", key=f"accept_{h['id']}"):
                workspace.act("Accepted: the prospect is yours.", "POST", f"/bdr/handoffs/{h['id']}/accept")
                st.rerun()

with log_tab:
    tasks = workspace.call("GET", "/bdr/tasks", params={"limit": 100})["data"]
    touched = list(dict.fromkeys([t["prospectId"] for t in tasks] + [a["prospectId"] for a in approvals["data"]]))
    names = prospects(touched)
    if not touched:
        st.info("The agent has not worked on anyone yet.", icon=":material/history:")
    else:
        chosen = st.selectbox("Prospect", touched, key="bdr_log_prospect",
                              format_func=lambda pid: person(names[pid]) if names.get(pid) else pid)
        decisions = workspace.call("GET", f"/bdr/prospects/{chosen}/decisions", params={"limit": 100})["data"]
        for d in decisions:
            with st.container(border=True):
                st.markdown(f"**{label(d['step'])}: {label(d['chosen'])}** · {formatting.when(d['createdAt'])}")
                st.markdown(d["reason"])
                if d["options"]:
                    st.caption("Options considered: " + ", ".join(label(str(o)) for o in d["options"]))

with perf_tab:
    m = st.columns(4)
    m[0].metric("Leads contacted", perf["leadsContacted"])
    m[1].metric("Meetings booked", perf["meetingsBooked"])
    m[2].metric("Response rate", pct(perf["responseRate"]))
    m[3].metric("Handoff rate", pct(perf["handoffRate"]))
    st.caption(f"{perf['replies']} replies · {perf['handoffs']} handoffs · {perf['pendingApprovals']} waiting")
    if perf["daily"]:
        days = pd.DataFrame(perf["daily"])
        days["day"] = pd.to_datetime(days["day"])
        st.altair_chart(charts.lines(days, x="day", series=["contacted", "replies", "handoffs", "meetings"]),
                        width="stretch")

with experiments_tab:
    rows = variants["data"]
    if not rows:
        st.info("No messaging variants: every draft uses the configured tone. Add two or more to test them.",
                icon=":material/science:")
    else:
        winner = next((v for v in rows if v["winner"]), None)
        st.markdown(f"**Winner: {winner['name']}** (declared {formatting.when(winner['winnerAt'], with_time=False)})"
                    if winner else "No winner yet: one needs 100 prospects behind every variant and a 95 % chance "
                                   "of being the best.")
        frame = pd.DataFrame([{"variant": v["name"], "chance of being best": v["probabilityBest"] or 0,
                               "positive reply rate": v["positiveReplies"] / v["sends"] if v["sends"] else 0}
                              for v in rows])
        left, right = st.columns(2)
        left.altair_chart(charts.bars(frame, x="variant", y="chance of being best", y_format=".0%"), width="stretch")
        right.altair_chart(charts.bars(frame, x="variant", y="positive reply rate", y_format=".0%"), width="stretch")
        st.dataframe(pd.DataFrame([{"variant": v["name"], "status": v["status"], "tone": v["tone"] or "—",
                                    "prospects": v["sends"], "replies": v["replies"],
                                    "positive": v["positiveReplies"]} for v in rows]),
                     hide_index=True, width="stretch")
    if admin:
        with st.form("bdr_new_variant", clear_on_submit=True):
            st.markdown("**Add a variant**")
            name = st.text_input("Name")
            tone = st.selectbox("Tone", ["", "friendly", "formal", "direct", "casual"],
                                format_func=lambda t: t or "the configured tone")
            instructions = st.text_area("Instructions to the writer")
            if st.form_submit_button("Add"):
                workspace.act(f"Variant {name} added.", "POST", "/bdr/variants",
                              json={"name": name, "tone": tone or None, "instructions": instructions})
                st.rerun()

with settings_tab:
    st.markdown("Sending without review (approval mode *first touch* or *auto above confidence*) is refused until an "
                "admin accepts a **backtest** of exactly those settings: what the agent would pick now, and what "
                "happened to prospects like them on this organization's history.")
    backtests = workspace.call("GET", "/bdr/backtests", params={"limit": 5})["data"]
    if backtests:
        latest = backtests[0]
        report = latest["report"]
        st.markdown(f"**Latest backtest** · {formatting.when(latest['createdAt'])} · last {latest['days']} days · "
                    + ("accepted" if latest["acceptedAt"] else "not accepted")
                    + (" · tests the saved settings" if latest["current"] else " · other settings than the saved"))
        b = st.columns(4)
        b[0].metric("Would pick now", report["prospectsSelected"])
        b[1].metric("Similar e-mailed", report["similarContacted"])
        b[2].metric("Expected reply rate", pct(report["expectedReplyRate"]),
                    help=f"95 % interval {pct(report['expectedReplyRateLow'])}–{pct(report['expectedReplyRateHigh'])};"
                         f" everyone e-mailed: {pct(report['baselineReplyRate'])}")
        b[3].metric("Unsubscribe rate", pct(report["expectedUnsubscribeRate"]))
        for risk in report["risks"]:
            st.warning(risk, icon=":material/warning:")
        if admin and not latest["acceptedAt"] and st.button("Accept this report", key="bdr_accept_backtest"):
            workspace.act("Accepted: these settings may send without review.", "POST",
                          f"/bdr/backtests/{latest['id']}/accept")
            st.rerun()
    if admin and st.button("Run a backtest of the saved settings", key="bdr_run_backtest"):
        workspace.act("Backtest done.", "POST", "/bdr/backtests", json={"days": 90})
        st.rerun()

    st.subheader("Configuration")
    if not admin:
        st.caption("Only admins change the configuration.")
    with st.form("bdr_config"):
        enabled = st.toggle("Agent on", config["enabled"], disabled=not admin)
        modes = ["all", "first_touch", "auto_above_confidence"]
        mode = st.selectbox("Approval mode", modes, index=modes.index(config["approvalMode"]), format_func=label,
                            disabled=not admin)
        c = st.columns(3)
        per_day = c[0].number_input("Touches per day", 0, 10_000, config["maxDailyTouches"], disabled=not admin)
        per_prospect = c[1].number_input("Touches per prospect", 0, 50, config["maxTouchesPerProspect"],
                                         disabled=not admin)
        spacing = c[2].number_input("Hours between touches", 0, 2160, config["minDelayBetweenTouchesHours"],
                                    disabled=not admin)
        tiers = ["low", "warm", "hot", "burning"]
        tier = st.selectbox("Lowest intent tier picked", tiers,
                            index=tiers.index(config["settings"]["discovery"]["minIntentTier"]), format_func=label,
                            disabled=not admin)
        if st.form_submit_button("Save", disabled=not admin):
            settings = config["settings"]
            settings["caps"] = {"perDay": per_day, "perProspect": per_prospect, "minSpacingHours": spacing}
            settings["discovery"]["minIntentTier"] = tier
            workspace.act("Configuration saved.", "PUT", "/bdr/config",
                          json={"enabled": enabled, "approvalMode": mode, "settings": settings})
            st.rerun()

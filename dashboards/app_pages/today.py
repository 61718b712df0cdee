"""Today: what a rep works through every morning — tasks due (calls logged with a disposition, duration and notes
in one step), replies waiting, hot prospects, my deals at risk with the reason, and drafts waiting for approval.
Through the API as the signed-in user; each list links to the record."""

from __future__ import annotations

import streamlit as st

from dashboards.components import formatting, session, workspace
from dashboards.components.workspace import call, label, person

OUTCOMES = {"connected": "Connected", "voicemail": "Voicemail", "no_answer": "No answer", "busy": "Busy",
            "wrong_number": "Wrong number", "meeting_booked": "Meeting booked", "not_interested": "Not interested"}
user = session.current()
st.title("Today")
workspace.show_flash()


def safe(path: str, **params) -> list[dict] | None:
    try:
        return call("GET", path, params=params)["data"]
    except session.ApiError as exc:
        st.caption(f":orange[Unavailable: {exc.message}]")
        return None


def prospect_link(prospect_id: str | None, text: str) -> None:
    if prospect_id:
        st.page_link("app_pages/prospects.py", label=text, query_params={"prospect": prospect_id},
                     icon=":material/person:")
    else:
        st.markdown(text)


tasks = safe("/tasks/today", limit=100) or []
c1, c2, c3 = st.columns(3)
c1.metric("Tasks due", len(tasks))
hot = safe("/prospects", intentTier="hot,burning", ownerId=user.user_id, sort="-intentScore", limit=10) or []
c2.metric("Hot prospects", len(hot))
replies = safe("/activities", type="email_received", limit=10) or []
c3.metric("Recent replies", len(replies))

st.subheader("My tasks")
if not tasks:
    st.info("No tasks due today. Enroll prospects in a cadence to fill your day.", icon=":material/task_alt:")
for task in tasks:
    with st.container(border=True):
        head, due = st.columns([4, 1])
        head.markdown(f"**{task['title']}** · {label(task['type'])}")
        due.caption(f"due {formatting.when(task['dueAt'])}")
        if task.get("description"):
            st.caption(task["description"][:300])
        if task.get("prospectId"):
            prospect_link(task["prospectId"], "Open the prospect")
        with st.form(f"task_{task['id']}", clear_on_submit=True):
            if task["type"] == "call":
                a, b = st.columns(2)
                outcome = a.selectbox("Outcome", list(OUTCOMES), format_func=OUTCOMES.get)
                minutes = b.number_input("Minutes", min_value=0, max_value=600, value=3)
            else:
                outcome, minutes = "completed", None
            notes = st.text_input("Notes")
            if st.form_submit_button("Log call and complete" if task["type"] == "call" else "Complete"):
                body = {"outcome": outcome, "notes": notes or None}
                if minutes is not None:
                    body["durationSeconds"] = int(minutes) * 60
                workspace.act(f"Done: {task['title']}.", "POST", f"/tasks/{task['id']}/complete", json=body)
                st.rerun()

left, right = st.columns(2)
with left:
    st.subheader("Hot prospects")
    if not hot:
        st.caption("None of your prospects is showing strong buying intent right now.")
    for p in hot:
        prospect_link(p["id"], f"{person(p)} · {p.get('company') or '—'} · intent {p['intentScore']}")
    st.subheader("Replies")
    if not replies:
        st.caption("No replies in your timeline yet.")
    for r in replies:
        prospect_link(r.get("prospectId"), f"{r['occurredAt'][:10]} · {r.get('subject') or 'Reply'}")
with right:
    st.subheader("My deals at risk")
    deals = safe("/deals", ownerId=user.user_id, stage="discovery,qualification,proposal,negotiation",
                 sort="-amount", limit=10) or []
    shown = 0
    for deal in deals:
        try:
            health = call("GET", f"/deals/{deal['id']}/health")
        except session.ApiError:
            continue
        if health["level"] in ("at_risk", "critical"):
            shown += 1
            reason = health["reasons"][0]["message"] if health["reasons"] else "low health score"
            st.markdown(f"**{deal['name']}** — {label(health['level'])}: {reason}")
    if not shown:
        st.caption("None of your largest open deals is at risk.")
    st.subheader("Waiting for my approval")
    approvals = safe("/bdr/approvals", status="pending", limit=10) or []
    if not approvals:
        st.caption("No agent drafts are waiting.")
    for a in approvals:
        prospect_link(a["prospectId"], f"{label(a['purpose'])} draft · {a['createdAt'][:10]}")

"""Today: what a rep works through every morning — tasks due (calls logged with a disposition, duration and notes
in one step), replies waiting, hot prospects, my deals at risk with the reason, and drafts waiting for approval.
Through the API as the signed-in user; each list links to the record."""

from __future__ import annotations

import streamlit as st

from dashboards.components import formatting, session, workspace
from dashboards.components.workspace import label, person

OUTCOMES = {"connected": "Connected", "voicemail": "Voicemail", "no_answer": "No answer", "busy": "Busy",
            "wrong_number": "Wrong number", "meeting_booked": "Meeting booked", "not_interested": "Not interested"}
user = session.current()
st.title("Today")
workspace.show_flash()


def shown(result) -> list[dict]:
    """A list's rows, or a word that it is unavailable (and nothing)."""
    if isinstance(result, session.ApiError):
        st.caption(f":orange[Unavailable: {result.message}]")
        return []
    return result["data"]


# everything the page reads, at once
tasks, hot, replies, deals, approvals = workspace.call_many(
    ("/tasks/today", {"limit": 100}),
    ("/prospects", {"intentTier": "hot,burning", "ownerId": user.user_id, "sort": "-intentScore", "limit": 10}),
    ("/activities", {"type": "email_received", "limit": 10}),
    ("/deals", {"ownerId": user.user_id, "stage": "discovery,qualification,proposal,negotiation", "sort": "-amount",
                "limit": 10}),
    ("/bdr/approvals", {"status": "pending", "limit": 10}),
)


def prospect_link(prospect_id: str | None, text: str) -> None:
    if prospect_id:
        st.page_link("app_pages/prospects.py", label=text, query_params={"prospect": prospect_id},
                     icon=":material/person:")
    else:
        st.markdown(text)


c1, c2, c3 = st.columns(3)
with c1:
    tasks = shown(tasks)
    st.metric("Tasks due", len(tasks))
with c2:
    hot = shown(hot)
    st.metric("Hot prospects", len(hot))
with c3:
    replies = shown(replies)
    st.metric("Recent replies", len(replies))

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
        prospect_link(r.get("prospectId"), f"{formatting.when(r['occurredAt'], with_time=False)} · "
                                           f"{r.get('subject') or 'Reply'}")
with right:
    st.subheader("My deals at risk")
    deals = shown(deals)
    at_risk = 0
    healths = workspace.call_many(*((f"/deals/{deal['id']}/health", None) for deal in deals))
    for deal, health in zip(deals, healths, strict=True):
        if not isinstance(health, session.ApiError) and health["level"] in ("at_risk", "critical"):
            at_risk += 1
            reason = health["reasons"][0]["message"] if health["reasons"] else "low health score"
            st.markdown(f"**{deal['name']}** — {label(health['level'])}: {reason}")
    if not at_risk:
        st.caption("None of your largest open deals is at risk.")
    st.subheader("Waiting for my approval")
    approvals = shown(approvals)
    if not approvals:
        st.caption("No agent drafts are waiting.")
    for a in approvals:
        created = formatting.when(a["createdAt"], with_time=False)
        prospect_link(a["prospectId"], f"{label(a['purpose'])} draft · {created}")

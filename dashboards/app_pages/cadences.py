"""Cadences: build one (steps of every type with delays, a condition on earlier engagement, A/B variants for
e-mails, business hours and working days), enroll prospects found by search or everyone in a saved view, pause
or resume enrollments, and
read each step's results — through the API as the signed-in user."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.components import session, workspace
from dashboards.components.workspace import call, label, person

VIEW_ENROLL_MAX = 1_000  # prospects enrolled from a saved view in one go (pages of 100 read at once)


def enroll_view(cadence: dict) -> None:
    """Enroll what a saved view of the prospect list matches (its first VIEW_ENROLL_MAX, in the view's order)."""
    try:
        views = call("GET", "/prospects/views", params={"limit": 100})["data"]
    except session.ApiError:
        views = []
    if not views:
        return
    by_id = {v["id"]: v for v in views}
    view_id = st.selectbox("…or everyone in a saved view", [None, *by_id], key="cadence_enroll_view",
                           format_func=lambda v: "—" if v is None else by_id[v]["name"])
    if view_id is None:
        return
    filters = by_id[view_id]["filters"]
    total = call("GET", "/prospects", params={**filters, "limit": 1})["pagination"]["total"]
    size = min(total, VIEW_ENROLL_MAX)
    note = f" (the first {VIEW_ENROLL_MAX:,} of {total:,})" if total > VIEW_ENROLL_MAX else ""
    if st.button(f"Enroll {size:,} prospects{note}", disabled=not size, key="cadence_enroll_view_go"):
        pages = workspace.call_many(*(("/prospects", {**filters, "limit": 100, "page": n})
                                      for n in range(1, (size + 99) // 100 + 1)))
        failed = next((p for p in pages if isinstance(p, session.ApiError)), None)
        if failed is not None:
            workspace.flash("error", f"Cannot read the view: {failed.message}")
        else:
            ids = [p["id"] for page in pages for p in page["data"]][:size]
            result = workspace.act("Enrollment done.", "POST", f"/cadences/{cadence['id']}/enroll",
                                   json={"prospectIds": ids})
            if result:
                counts = ", ".join(f"{n} {label(k).lower()}" for k, n in result["counts"].items() if n)
                workspace.flash("success", f"Enrollment done: {counts}.")
        st.rerun()


STEP_TYPES = ["email", "call", "linkedin", "sms", "task"]
CONDITIONS = {"": "always", "opened": "if an earlier e-mail was opened", "not_opened": "if none was opened",
              "clicked": "if a link was clicked", "not_clicked": "if no link was clicked",
              "replied": "if they replied", "no_reply": "if they have not replied"}
DAYS = {1: "Mon", 2: "Tue", 3: "Wed", 4: "Thu", 5: "Fri", 6: "Sat", 7: "Sun"}
DRAFT = "cadence_draft_steps"
user = session.current()
st.title("Cadences")
workspace.show_flash()

try:
    cadences = call("GET", "/cadences", params={"limit": 100})["data"]
except session.ApiError as exc:
    st.error(f"Cannot load cadences: {exc.message}")
    st.stop()

existing, build = st.tabs(["My cadences", "Build a cadence"])

with existing:
    if not cadences:
        st.info("No cadences yet: build one in the next tab.", icon=":material/route:")
    else:
        cadence = st.selectbox("Cadence", cadences, format_func=lambda c: c["name"], key="cadence_pick")
        full = call("GET", f"/cadences/{cadence['id']}")
        st.caption(("Active" if full["isActive"] else "Paused")
                   + (f" · {full['description']}" if full.get("description") else ""))
        st.dataframe(pd.DataFrame([{
            "Step": s["stepNumber"], "Type": label(s["type"]),
            "After": f"{s['delayDays']} d {s['delayHours']} h",
            "When": CONDITIONS.get((s.get("conditions") or {}).get("if", ""), "always"),
            "Subject / task": s.get("subject") or (s.get("content") or "")[:60],
            "Variants": len(s.get("variants") or []),
        } for s in full["steps"]]), hide_index=True, width="stretch")
        try:
            stats = call("GET", f"/cadences/{cadence['id']}/analytics")
        except session.ApiError as exc:
            st.caption(f"Analytics unavailable: {exc.message}")
        else:
            m = st.columns(4)
            m[0].metric("Enrolled", sum(stats["enrollments"].values()))
            m[1].metric("Active", stats["enrollments"].get("active", 0))
            m[2].metric("Open rate", f"{stats['rates'].get('opened', 0):.0%}")
            m[3].metric("Reply rate", f"{stats['rates'].get('replied', 0):.0%}")
            per_step = pd.DataFrame([{"Step": f"{s['stepNumber']} · {label(s['type'])}",
                                      "Runs": sum(s["runs"].values()),
                                      "Replies": s["emails"].get("replied", 0)} for s in stats["steps"]])
            if not per_step.empty:
                st.bar_chart(per_step.set_index("Step"), height=220)
        st.markdown("**Enroll prospects**")
        q = st.text_input("Find prospects", placeholder="name, e-mail or company", key="cadence_enroll_q")
        found = call("GET", "/prospects", params={"q": q, "limit": 50})["data"] if q else []
        names = {p["id"]: f"{person(p)} <{p['email']}>" for p in found}
        chosen = st.multiselect("Prospects", list(names), format_func=names.get, key="cadence_enroll_pick")
        if st.button("Enroll", disabled=not chosen, icon=":material/playlist_add:"):
            result = workspace.act("Enrollment done.", "POST", f"/cadences/{cadence['id']}/enroll",
                                   json={"prospectIds": chosen})
            if result:
                counts = ", ".join(f"{n} {label(k).lower()}" for k, n in result["counts"].items() if n)
                workspace.flash("success", f"Enrollment done: {counts}.")
            st.rerun()
        enroll_view(cadence)
        enrollments = call("GET", f"/cadences/{cadence['id']}/enrollments", params={"limit": 25})["data"]
        for e in enrollments:
            a, b = st.columns([4, 1])
            try:
                who = person(call("GET", f"/prospects/{e['prospectId']}"))
            except session.ApiError:
                who = "a deleted prospect"
            a.markdown(f"{who} · {label(e['status'])}"
                       + (f" · next: step {e['nextStepNumber']}" if e.get("nextStepNumber") else ""))
            if e["status"] == "active" and b.button("Pause", key=f"pause_{e['id']}"):
                workspace.act("Paused.", "POST", f"/cadence-enrollments/{e['id']}/pause")
                st.rerun()
            if e["status"] == "paused" and b.button("Resume", key=f"resume_{e['id']}"):
                workspace.act("Resumed.", "POST", f"/cadence-enrollments/{e['id']}/resume")
                st.rerun()

with build:
    steps: list[dict] = st.session_state.setdefault(DRAFT, [])
    name = st.text_input("Name", key="cadence_name")
    description = st.text_input("Description", key="cadence_description")
    h1, h2, h3 = st.columns(3)
    start = h1.time_input("Business hours from", value=pd.Timestamp("09:00").time(), key="cadence_start")
    end = h2.time_input("to", value=pd.Timestamp("17:00").time(), key="cadence_end")
    days = h3.multiselect("Working days", list(DAYS), default=[1, 2, 3, 4, 5], format_func=DAYS.get,
                          key="cadence_days")
    with st.form("add_step", clear_on_submit=True):
        st.markdown(f"**Step {len(steps) + 1}**")
        c1, c2, c3 = st.columns(3)
        kind = c1.selectbox("Type", STEP_TYPES, format_func=label)
        wait_days = c2.number_input("Wait (days)", min_value=0, max_value=365, value=0 if not steps else 2)
        condition = c3.selectbox("Run", list(CONDITIONS), format_func=CONDITIONS.get)
        subject = st.text_input("Subject (e-mail)")
        content = st.text_area("E-mail text, or what to do for a call / LinkedIn / task step")
        variant_b = st.text_input("Variant B subject (optional A/B test of the subject)")
        if st.form_submit_button("Add step"):
            step = {"type": kind, "delayDays": int(wait_days), "subject": subject or None, "content": content or None}
            if condition:
                step["conditions"] = {"if": condition, "else": "skip"}
            if kind == "email" and variant_b:
                step["variants"] = [{"name": "A", "subject": subject, "content": content},
                                    {"name": "B", "subject": variant_b, "content": content}]
            steps.append({k: v for k, v in step.items() if v is not None})
            st.rerun()
    for i, step in enumerate(steps, 1):
        st.markdown(f"{i}. **{label(step['type'])}** after {step['delayDays']} d"
                    + (f" — {step.get('subject')}" if step.get("subject") else "")
                    + (" · A/B" if step.get("variants") else ""))
    c1, c2 = st.columns(2)
    if c2.button("Clear steps", disabled=not steps):
        st.session_state[DRAFT] = []
        st.rerun()
    if c1.button("Save cadence", type="primary", disabled=not (name and steps)):
        body = {"name": name, "description": description or None, "steps": steps,
                "settings": {"businessHours": {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")},
                             "workingDays": days}}
        try:
            created = call("POST", "/cadences", json=body)
        except session.ApiError as exc:
            st.error(f"Not saved: {exc.message}")
        else:
            st.session_state[DRAFT] = []
            workspace.flash("success", f"Cadence “{created['name']}” saved with {len(created['steps'])} steps.")
            st.rerun()

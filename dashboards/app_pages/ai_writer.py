"""AI writer: pick a prospect, set tone, length and persona, generate with a live preview, see the facts used
with their sources and the checker's verdict line by line, edit, re-check, approve and send — all through the API
(`/ai/emails/...`); an error is the API's own sentence, shown next to what it is about."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.components import ai_api, session, states

DRAFT = "ai_writer_draft"
FLASH = "ai_writer_flash"

user = session.current()
st.title("AI writer")


def call(method: str, path: str, body=None):
    return session.api_call(method, path, token=user.token, json=body)


try:
    prospects = call("GET", "/prospects?limit=100")["data"]
except session.ApiError as exc:
    st.error(exc.message)
    st.stop()
if not prospects:
    states.empty("No prospects yet: add or import prospects, then write to them here.")
    st.stop()

labels = {p["id"]: f"{p.get('firstName') or ''} {p.get('lastName') or ''} · {p.get('company') or p['email']}".strip()
          for p in prospects}
with st.container(border=True):
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
    prospect_id = c1.selectbox("Prospect", list(labels), format_func=labels.get, key="ai_writer_prospect")
    tone = c2.selectbox("Tone", ["friendly", "formal", "direct"], key="ai_writer_tone")
    length = c3.selectbox("Length", ["short", "medium", "long"], index=1, key="ai_writer_length")
    persona = c4.selectbox("Persona", ["from the title", "executive", "manager", "practitioner"],
                           key="ai_writer_persona")
    instructions = st.text_input("Your guidance to the writer (optional)", key="ai_writer_instructions")
    generate = st.button("Generate", icon=":material/edit_note:", disabled=not user.can_write,
                         key="ai_writer_generate")

if generate:
    body = {"prospectId": prospect_id, "tone": tone, "length": length}
    if persona != "from the title":
        body["persona"] = persona
    if instructions.strip():
        body["instructions"] = instructions.strip()
    result: dict = {}
    with st.container(border=True):
        st.caption("Preview")
        st.write_stream(ai_api.stream_draft(user.token, body, result))
    if "error" in result:
        st.error(result["error"])
    else:
        st.session_state[DRAFT] = result["draft"]
        st.session_state.pop("ai_writer_subject", None)
        st.session_state.pop("ai_writer_body", None)

if FLASH in st.session_state:
    kind, message = st.session_state.pop(FLASH)
    (st.success if kind == "success" else st.error)(message)

draft = st.session_state.get(DRAFT)
if not draft:
    states.empty("Pick a prospect and generate a draft. With no AI key configured the offline writer drafts from "
                 "the prospect's facts.")
    st.stop()

st.subheader("Draft")
st.caption(f"To {draft['toEmail']} · from {draft['fromEmail']} · {draft['provider']} / {draft['model']} · "
           f"status **{draft['status']}**")
left, right = st.columns([3, 2])
with left:
    subject = st.text_input("Subject", value=draft["subject"], key="ai_writer_subject")
    body_text = st.text_area("Body", value=draft["body"], height=320, key="ai_writer_body")
    field_errors = st.container()
    b1, b2, b3 = st.columns(3)
    recheck = b1.button("Re-check", icon=":material/fact_check:", disabled=not user.can_write, key="ai_writer_check")
    approve = b2.button("Approve", icon=":material/thumb_up:", key="ai_writer_approve",
                        disabled=not user.can_write or draft["status"] != "draft")
    send = b3.button("Send", icon=":material/send:", type="primary", key="ai_writer_send",
                     disabled=not user.can_write or draft["status"] == "sent")
with right:
    check = draft["check"]
    st.markdown("**Checker**")
    if check["passed"]:
        st.success("Passes every check.", icon=":material/check_circle:")
    for failure in check["failures"]:
        evidence = f" — “{failure['evidence']}”" if failure.get("evidence") else ""
        st.error(f"{failure['code']}: {failure['message']}{evidence}")
    metrics = check.get("metrics") or {}
    st.caption(f"{metrics.get('words', '—')} words · reading grade {metrics.get('readingGrade', '—')}")
    st.markdown("**Facts used**")
    st.dataframe(pd.DataFrame([{"fact": f["key"], "value": f["value"], "source": f["source"]}
                               for f in draft["facts"]]), hide_index=True, width="stretch")


def act(label: str, method: str, path: str, body=None) -> None:
    try:
        updated = call(method, path, body)
    except session.ApiError as exc:
        field_errors.error(f"Could not {label}: {exc.message}")
        return
    st.session_state[DRAFT] = updated
    st.session_state[FLASH] = ("success", {"re-check": "Checked again.", "approve": "Approved.",
                                           "send": f"Queued for sending to {updated['toEmail']}."}[label])
    st.rerun()


edited = subject != draft["subject"] or body_text != draft["body"]
if recheck:
    act("re-check", "PATCH", f"/ai/emails/drafts/{draft['id']}", {"subject": subject, "body": body_text})
if approve:
    if edited:
        field_errors.error("Re-check your edits before approving.")
    else:
        act("approve", "POST", f"/ai/emails/drafts/{draft['id']}/approve")
if send:
    if edited:
        field_errors.error("Re-check your edits before sending.")
    else:
        act("send", "POST", f"/ai/emails/drafts/{draft['id']}/send")

"""E-mail: compose to a prospect from a template or from scratch with a live preview in the prospect's data and the
checker's verdict, send now or schedule; sent items with their tracking; templates; suppression; and the
deliverability check of a sending domain explained in plain words — all through the API as the signed-in user."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pandas as pd
import streamlit as st

from dashboards.components import session, workspace
from dashboards.components.workspace import call, label, person

DNS_WORDS = {
    "SPF": "SPF tells receiving servers which servers may send mail for the domain.",
    "DKIM": "DKIM signs each message so receivers can tell it was not altered and really comes from the domain.",
    "DMARC": "DMARC tells receivers what to do with mail that fails SPF and DKIM, and where to send reports.",
}
user = session.current()
st.title("E-mail")
workspace.show_flash()
compose, sent, templates_tab, suppression, deliverability = st.tabs(
    ["Compose", "Sent", "Templates", "Suppression", "Deliverability"])


def safe(path: str, **params) -> list[dict]:
    try:
        return call("GET", path, params=params)["data"]
    except session.ApiError as exc:
        st.error(f"Unavailable: {exc.message}")
        return []


with compose:
    query = st.text_input("To (search prospects)", placeholder="name, e-mail or company", key="compose_q")
    found = safe("/prospects", q=query, limit=20) if query else []
    if query and not found:
        st.caption("No prospect matches.")
    prospect = st.selectbox("Prospect", found, format_func=lambda p: f"{person(p)} <{p['email']}>",
                            key="compose_prospect") if found else None
    templates = safe("/email-templates", limit=100)
    def use_template() -> None:
        chosen = st.session_state.get("compose_template") or {}
        st.session_state["compose_subject"] = chosen.get("subject", "")
        st.session_state["compose_body"] = chosen.get("text") or ""

    st.selectbox("Template", [None, *templates], key="compose_template", on_change=use_template,
                 format_func=lambda t: "No template" if t is None else t["name"])
    subject = st.text_input("Subject", key="compose_subject")
    body = st.text_area("Message", height=200, key="compose_body",
                        help="Mustache variables such as {{firstName}} are filled from the prospect")
    if prospect and subject and body:
        try:
            preview = call("POST", "/email-templates/preview",
                           json={"prospectId": prospect["id"], "subject": subject, "text": body})
        except session.ApiError as exc:
            st.error(f"Preview: {exc.message}")
        else:
            with st.container(border=True):
                st.markdown(f"**{preview['subject']}**")
                st.text(preview["text"] or "")
            try:
                verdict = call("POST", "/ai/emails/check", json={"prospectId": prospect["id"],
                                                                 "subject": preview["subject"],
                                                                 "body": preview["text"] or body})
            except session.ApiError as exc:
                st.caption(f"The checker is unavailable: {exc.message}")
            else:
                if verdict["passed"]:
                    st.success("The checker passed this e-mail.", icon=":material/verified:")
                for failure in verdict["failures"]:
                    st.warning(f"{failure['message']}" + (f" — “{failure['evidence']}”" if failure.get("evidence")
                                                          else ""))
    when = st.radio("When", ["Now", "Later"], horizontal=True, key="compose_when")
    send_at = None
    if when == "Later":
        d, t = st.columns(2)
        day = d.date_input("Day", key="compose_day")
        hour = t.time_input("Time (UTC)", value=time(9, 0), key="compose_time")
        send_at = datetime.combine(day, hour, UTC).isoformat()
    if st.button("Send" if when == "Now" else "Schedule", icon=":material/send:", disabled=not prospect,
                 type="primary"):
        payload = {"prospectId": prospect["id"], "to": [{"email": prospect["email"], "name": person(prospect)}],
                   "subject": subject, "text": body, "sendAt": send_at}
        if workspace.act("Queued for sending." if when == "Now" else "Scheduled.", "POST", "/emails/send",
                         json={k: v for k, v in payload.items() if v is not None}) is not None:
            st.rerun()
        workspace.show_flash()

with sent:
    emails = safe("/emails", limit=50)
    if not emails:
        st.info("Nothing sent yet.", icon=":material/outbox:")
    else:
        st.dataframe(pd.DataFrame([{
            "To": ", ".join(r.get("email", "") for r in e["to"]), "Subject": e["subject"],
            "Status": label(e["status"]), "Opened": "✓" if e["opened"] else "", "Clicked": "✓" if e["clicked"] else "",
            "Replied": "✓" if e["replied"] else "", "Bounced": "✓" if e["bounced"] else "",
        } for e in emails]), hide_index=True, width="stretch")

with templates_tab:
    for t in templates:
        with st.expander(t["name"]):
            st.markdown(f"**{t['subject']}**")
            st.text(t.get("text") or "")
    with st.form("new_template", clear_on_submit=True):
        st.markdown("**New template**")
        name = st.text_input("Name")
        t_subject = st.text_input("Subject line")
        t_text = st.text_area("Text", help="{{firstName}}, {{company}} … are filled per prospect")
        if st.form_submit_button("Save template"):
            workspace.act(f"Template “{name}” saved.", "POST", "/email-templates",
                          json={"name": name, "subject": t_subject, "text": t_text})
            st.rerun()

with suppression:
    address = st.text_input("Check an address", key="suppression_q")
    if address:
        try:
            found = call("GET", f"/emails/suppressions/{address}")
        except session.ApiError as exc:
            st.error(exc.message)
        else:
            st.write("Suppressed: " + (label(found.get("reason")) if found.get("suppressed") else "no"))
    with st.form("suppress", clear_on_submit=True):
        blocked = st.text_input("Never e-mail this address")
        if st.form_submit_button("Suppress"):
            workspace.act(f"{blocked} will not be e-mailed.", "POST", "/emails/suppressions",
                          json={"email": blocked, "reason": "manual"})
            st.rerun()

with deliverability:
    domain = st.text_input("Sending domain", placeholder="example.com", key="dns_domain")
    if domain:
        try:
            report = call("GET", "/emails/deliverability", params={"domain": domain})
        except session.ApiError as exc:
            st.error(exc.message)
        else:
            (st.success if report["ready"] else st.warning)(
                f"{report['domain']} is {'ready' if report['ready'] else 'not ready'} to send.")
            for check in report["checks"]:
                ok = check["status"] in ("pass", "ok", "found")
                st.markdown(f"{'✅' if ok else '⚠️'} **{check['record']}** — {check['message']}")
                st.caption(DNS_WORDS.get(check["record"].upper(), ""))

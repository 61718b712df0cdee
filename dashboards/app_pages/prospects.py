"""Prospects: a server-side paginated list with filters, a record view (profile, scores, enrichment with its
sources, the timeline, deals) with the rep's actions (edit, log a call, add a note, enroll in a cadence, send an
e-mail), creating one with the API's errors next to the fields, and the CSV import wizard with its row report.
Everything through the API as the signed-in user; `?prospect=<id>` keeps a record open across reloads and links."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.components import session, workspace
from dashboards.components.workspace import STATUS, TIERS, call, label, person

PAGE_SIZE = 25
FIELD_ERRORS = "prospect_field_errors"
user = session.current()
st.title("Prospects")
workspace.show_flash()


def field_error(name: str) -> None:
    message = st.session_state.get(FIELD_ERRORS, {}).get(name)
    if message:
        st.caption(f":red[{message}]")


def open_record(prospect_id: str | None) -> None:
    if prospect_id:
        st.query_params["prospect"] = prospect_id
    else:
        st.query_params.pop("prospect", None)


# -- the record -------------------------------------------------------------------------------------------------

def record(prospect_id: str) -> None:
    found = workspace.fetch_record("prospect", "prospect", f"/prospects/{prospect_id}")
    if found is None:
        return
    p = found[0]
    top, back = st.columns([5, 1])
    top.subheader(person(p))
    top.caption(" · ".join(x for x in (p.get("title"), p.get("company"), p["email"], p.get("phone")) if x))
    if back.button("All prospects", icon=":material/arrow_back:"):
        open_record(None)
        st.rerun()
    m = st.columns(4)
    m[0].metric("Status", STATUS.get(p["status"], label(p["status"])))
    m[1].metric("Lead score", "—" if p["priorityScore"] is None else p["priorityScore"])
    tier = TIERS.get(p["intentTier"], "—")
    m[2].metric("Intent", "—" if p["intentScore"] is None else f"{p['intentScore']} ({tier})")
    m[3].metric("Last contacted", (p["lastContactedAt"] or "never")[:10])

    timeline, details, act_tab = st.tabs(["Timeline", "Profile and enrichment", "Actions"])
    with timeline:
        try:
            items = call("GET", f"/prospects/{prospect_id}/activities", params={"limit": 50})["data"]
        except session.ApiError as exc:
            st.error(f"Timeline unavailable: {exc.message}")
            items = []
        if not items:
            st.caption("Nothing on the timeline yet: log a call or send an e-mail from Actions.")
        for item in items:
            st.markdown(f"**{label(item['type'])}** · {item['occurredAt'][:16].replace('T', ' ')} UTC"
                        + (f" — {item['subject']}" if item.get("subject") else ""))
            if item.get("description"):
                st.caption(item["description"][:500])
    with details:
        profile = {label(k): v for k, v in (("title", p.get("title")), ("department", p.get("department")),
                                            ("seniority", p.get("seniority")), ("city", p.get("city")),
                                            ("country", p.get("country")), ("time zone", p.get("timezone")),
                                            ("source", p.get("source")), ("LinkedIn", p.get("linkedinUrl"))) if v}
        st.dataframe(pd.DataFrame({"Field": list(profile), "Value": [str(v) for v in profile.values()]}),
                     hide_index=True, width="stretch")
        enrichment = p.get("enrichmentData") or {}
        if enrichment:
            rows = []
            for field, value in enrichment.items():
                if isinstance(value, dict) and "value" in value:
                    rows.append({"Field": label(field), "Value": str(value["value"]),
                                 "Source": value.get("source") or "—", "Confidence": value.get("confidence")})
                else:
                    rows.append({"Field": label(field), "Value": str(value), "Source": "file import",
                                 "Confidence": None})
            st.markdown("**Enrichment**")
            st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        else:
            st.caption("No enrichment yet.")
        with st.form("edit_prospect"):
            st.markdown("**Edit**")
            first = st.text_input("First name", p.get("firstName") or "")
            last = st.text_input("Last name", p.get("lastName") or "")
            title = st.text_input("Title", p.get("title") or "")
            status = st.selectbox("Status", list(STATUS), index=list(STATUS).index(p["status"])
                                  if p["status"] in STATUS else 0, format_func=STATUS.get)
            if st.form_submit_button("Save"):
                if workspace.act("Saved.", "PUT", f"/prospects/{prospect_id}",
                                 json={"firstName": first or None, "lastName": last or None, "title": title or None,
                                       "status": status}) is not None:
                    st.rerun()
                workspace.show_flash()
    with act_tab:
        actions(p)


def actions(p: dict) -> None:
    pid = p["id"]
    call_col, note_col = st.columns(2)
    with call_col.form("log_call", clear_on_submit=True):
        st.markdown("**Log a call**")
        disposition = st.selectbox("Disposition", ["answered", "voicemail", "no_answer", "busy"], format_func=label)
        minutes = st.number_input("Duration (minutes)", min_value=0, max_value=600, value=5)
        notes = st.text_area("Notes", key="call_notes")
        if st.form_submit_button("Log call"):
            workspace.act("Call logged.", "POST", "/calls", json={
                "prospectId": pid, "disposition": disposition, "durationSeconds": int(minutes) * 60,
                "notes": notes or None})
            st.rerun()
    with note_col.form("add_note", clear_on_submit=True):
        st.markdown("**Add a note**")
        subject = st.text_input("Subject")
        text = st.text_area("Note", key="note_text")
        if st.form_submit_button("Add note"):
            workspace.act("Note added.", "POST", "/activities", json={
                "type": "note_added", "prospectId": pid, "subject": subject or None, "description": text or None})
            st.rerun()
    enroll_col, mail_col = st.columns(2)
    with enroll_col:
        st.markdown("**Enroll in a cadence**")
        try:
            cadences = call("GET", "/cadences", params={"limit": 100})["data"]
        except session.ApiError:
            cadences = []
        if not cadences:
            st.caption("No cadences yet: build one on the Cadences page.")
        else:
            chosen = st.selectbox("Cadence", cadences, format_func=lambda c: c["name"], key="enroll_cadence")
            if st.button("Enroll", icon=":material/playlist_add:"):
                result = workspace.act("Enrolled.", "POST", f"/cadences/{chosen['id']}/enroll",
                                       json={"prospectIds": [pid]})
                refused = [r for r in (result or {}).get("results", []) if r["result"] != "enrolled"]
                if refused:
                    workspace.flash("error", f"Not enrolled: {label(refused[0].get('reason') or refused[0]['result'])}")
                st.rerun()
    with mail_col.form("send_email", clear_on_submit=True):
        st.markdown("**Send an e-mail**")
        subject = st.text_input("Subject", key="mail_subject")
        body = st.text_area("Message", key="mail_body")
        if st.form_submit_button("Send"):
            workspace.act("Queued for sending.", "POST", "/emails/send", json={
                "prospectId": pid, "to": [{"email": p["email"]}], "subject": subject, "text": body})
            st.rerun()


# -- the list -------------------------------------------------------------------------------------------------

def listing() -> None:
    f1, f2, f3, f4 = st.columns([3, 2, 2, 1])
    q = f1.text_input("Search", placeholder="name, e-mail or company", key="prospects_q")
    statuses = f2.multiselect("Status", list(STATUS), format_func=STATUS.get, key="prospects_status")
    tiers = f3.multiselect("Intent", list(TIERS), format_func=TIERS.get, key="prospects_tier")
    mine = f4.toggle("Mine", key="prospects_mine")
    signature = (q, tuple(statuses), tuple(tiers), mine)
    if st.session_state.get("prospects_filters") != signature:  # new filters: back to the first page
        st.session_state["prospects_filters"], st.session_state["prospects_page"] = signature, 1
    params = {"limit": PAGE_SIZE, "page": st.session_state["prospects_page"], "sort": "-priorityScore"}
    if q:
        params["q"] = q
    if statuses:
        params["status"] = ",".join(statuses)
    if tiers:
        params["intentTier"] = ",".join(tiers)
    if mine:
        params["ownerId"] = user.user_id
    try:
        page = call("GET", "/prospects", params=params)
    except session.ApiError as exc:
        st.error(f"Cannot load prospects: {exc.message}", icon=":material/cloud_off:")
        return
    meta = page["pagination"]
    if not page["data"]:
        st.info("No prospects match. Add one below or import a CSV.", icon=":material/person_add:")
    else:
        frame = pd.DataFrame([{
            "Name": person(p), "Company": p.get("company") or "—", "Title": p.get("title") or "—",
            "Status": STATUS.get(p["status"], label(p["status"])), "Score": p["priorityScore"],
            "Intent": TIERS.get(p["intentTier"], "—"), "Last contacted": (p["lastContactedAt"] or "")[:10],
        } for p in page["data"]])
        picked = st.dataframe(frame, hide_index=True, width="stretch", on_select="rerun",
                              selection_mode="single-row", key="prospects_table",
                              column_config={"Score": st.column_config.ProgressColumn(
                                  "Score", min_value=0, max_value=100, format="%d")})
        rows = picked.selection.rows if picked and picked.selection else []
        if rows:
            open_record(page["data"][rows[0]]["id"])
            st.rerun()
        n1, n2, n3 = st.columns([1, 3, 1])
        current = meta["page"]
        if n1.button("Previous", disabled=current <= 1):
            st.session_state["prospects_page"] = current - 1
            st.rerun()
        n2.caption(f"Page {current} of {max(meta['pages'], 1)} · {meta['total']:,} prospects")
        if n3.button("Next", disabled=current >= meta["pages"]):
            st.session_state["prospects_page"] = current + 1
            st.rerun()

    add, upload = st.tabs(["Add a prospect", "Import a CSV"])
    with add, st.form("create_prospect"):
        email = st.text_input("E-mail")
        field_error("email")
        c1, c2 = st.columns(2)
        first = c1.text_input("First name")
        last = c2.text_input("Last name")
        company = c1.text_input("Company")
        title = c2.text_input("Title")
        phone = st.text_input("Phone", placeholder="+14155550100")
        field_error("phone")
        if st.form_submit_button("Add prospect"):
            body = {k: v for k, v in {"email": email, "firstName": first, "lastName": last, "company": company,
                                      "title": title, "phone": phone}.items() if v}
            try:
                created = call("POST", "/prospects", json=body)
            except session.ApiError as exc:
                st.session_state[FIELD_ERRORS] = exc.field_errors() or {"email": exc.message}
                st.rerun()
            else:
                st.session_state.pop(FIELD_ERRORS, None)
                workspace.flash("success", f"Added {person(created)}.")
                open_record(created["id"])
                st.rerun()
    with upload:
        st.caption("Columns: email (required), first_name, last_name, company, title, phone, … — rows with errors are "
                   "reported and the rest imported.")
        file = st.file_uploader("CSV file", type=["csv"], key="prospects_csv")
        if file is not None and st.button("Import", icon=":material/upload:"):
            try:
                report = call("POST", "/prospects/import", files={"file": (file.name, file.getvalue(), "text/csv")})
            except session.ApiError as exc:
                st.error(f"Import refused: {exc.message}")
            else:
                st.success(f"{report['created']} created, {report['updated']} updated, {report['unchanged']} "
                           f"unchanged, {report['failed']} rejected.")
                if report["errors"]:
                    st.markdown("**Rejected rows**")
                    st.table(pd.DataFrame([{"Line": e["row"], "Field": e.get("field") or "—", "Why": e["reason"],
                                            "Value": e.get("value") or ""} for e in report["errors"][:200]])
                             .set_index("Line"))


if st.query_params.get("prospect"):
    record(st.query_params["prospect"])
else:
    listing()

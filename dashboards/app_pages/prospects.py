"""Prospects: a server-side paginated list with filters, a record view (profile, scores, enrichment with its
sources, the timeline, deals) with the rep's actions (edit, log a call, add a note, enroll in a cadence, send an
e-mail), creating one with the API's errors next to the fields, and the CSV import wizard with its row report.
Everything through the API as the signed-in user; `?prospect=<id>` keeps a record open across reloads and links."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards.components import formatting, session, workspace
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
    m[3].metric("Last contacted", formatting.when(p["lastContactedAt"], with_time=False, empty="never"))

    timeline, score_tab, details, act_tab = st.tabs(["Timeline", "Score", "Profile and enrichment", "Actions"])
    with score_tab:
        score_explained(prospect_id)
    with timeline:
        try:
            items = call("GET", f"/prospects/{prospect_id}/activities", params={"limit": 50})["data"]
        except session.ApiError as exc:
            st.error(f"Timeline unavailable: {exc.message}")
            items = []
        if not items:
            st.caption("Nothing on the timeline yet: log a call or send an e-mail from Actions.")
        for item in items:
            st.markdown(f"**{label(item['type'])}** · {formatting.when(item['occurredAt'])}"
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


def score_explained(prospect_id: str) -> None:
    """The lead score and what moved it: baseline + each top factor + the rest = the score, as a waterfall."""
    try:
        insight = call("GET", f"/prospects/{prospect_id}/insights")
    except session.ApiError as exc:
        st.caption(f"Score details unavailable: {exc.message}")
        return
    factors = insight.get("topFactors") or []
    if insight.get("score") is None and not factors:
        st.caption("Not scored yet: scores are computed by the scheduled scoring run.")
        return
    if insight.get("score") is not None:
        st.markdown(f"**Lead score {insight['score']}**" + (f" · {label(insight['tier'])}" if insight.get("tier")
                                                            else "")
                    + (f" · model {insight['modelVersion']}" if insight.get("modelVersion") else ""))
    steps = ([("Typical prospect", insight["scoreBaseline"])] if insight.get("scoreBaseline") is not None else [])
    steps += [(f["factor"], f["impact"]) for f in factors]
    if insight.get("otherFactorsImpact"):
        steps.append(("Everything else", insight["otherFactorsImpact"]))
    frame = pd.DataFrame(steps, columns=["Factor", "Points"])
    frame["end"] = frame["Points"].cumsum()
    frame["start"] = frame["end"] - frame["Points"]
    frame["Direction"] = ["Baseline" if i == 0 and insight.get("scoreBaseline") is not None
                          else ("Raises" if v >= 0 else "Lowers") for i, v in enumerate(frame["Points"])]
    order = list(frame["Factor"])
    chart = alt.Chart(frame).mark_bar().encode(
        y=alt.Y("Factor:N", sort=order, title=None),
        x=alt.X("start:Q", title="Points"), x2="end:Q",
        color=alt.Color("Direction:N", scale=alt.Scale(domain=["Baseline", "Raises", "Lowers"],
                                                       range=["#9aa5b1", "#2e7d32", "#c62828"]),
                        legend=alt.Legend(orient="bottom", title=None)),
        tooltip=["Factor", "Points"])
    st.altair_chart(chart, width="stretch")
    history = insight.get("scoreHistory") or []
    if len(history) > 1:
        st.markdown("**Over time**")
        st.line_chart(pd.DataFrame(history).set_index("date")[["score"]], height=160)


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

VIEW_KEYS = ("q", "status", "intentTier", "ownerId", "minPriorityScore", "maxPriorityScore", "neverContacted",
             "lastContactedAfter", "lastContactedBefore", "customField", "sort")
CONTACTED = {"any": "Any time", "never": "Never contacted", "stale": "Not in the last 30 days",
             "recent": "In the last 30 days"}
SORTS = {"-priorityScore": "Lead score, highest first", "-intentScore": "Intent, highest first",
         "-createdAt": "Newest first", "lastContactedAt": "Longest since contacted", "company": "Company A–Z"}


def load_view(view: dict | None) -> None:
    """Put a saved view's filters into the filter widgets (before they are drawn)."""
    f = (view or {}).get("filters", {})
    st.session_state["prospects_q"] = f.get("q", "")
    st.session_state["prospects_status"] = [s for s in f.get("status", []) if s in STATUS]
    st.session_state["prospects_tier"] = [t for t in f.get("intentTier", []) if t in TIERS]
    st.session_state["prospects_mine"] = f.get("ownerId") == user.user_id
    st.session_state["prospects_score"] = (f.get("minPriorityScore", 0), f.get("maxPriorityScore", 100))
    st.session_state["prospects_contacted"] = ("never" if f.get("neverContacted") else
                                               "stale" if f.get("lastContactedBefore") else
                                               "recent" if f.get("lastContactedAfter") else "any")
    st.session_state["prospects_custom"] = "\n".join(f.get("customField", []))
    st.session_state["prospects_sort"] = f.get("sort") if f.get("sort") in SORTS else "-priorityScore"


def current_filters() -> dict:
    """The widgets' state as the list endpoint's query (and a saved view's filters)."""
    ss = st.session_state
    filters: dict = {"sort": ss.get("prospects_sort", "-priorityScore")}
    if ss.get("prospects_q"):
        filters["q"] = ss["prospects_q"]
    if ss.get("prospects_status"):
        filters["status"] = list(ss["prospects_status"])
    if ss.get("prospects_tier"):
        filters["intentTier"] = list(ss["prospects_tier"])
    if ss.get("prospects_mine"):
        filters["ownerId"] = user.user_id
    low, high = ss.get("prospects_score", (0, 100))
    if low > 0:
        filters["minPriorityScore"] = low
    if high < 100:
        filters["maxPriorityScore"] = high
    contacted = ss.get("prospects_contacted", "any")
    month_ago = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=30)).floor("D").isoformat()
    if contacted == "never":
        filters["neverContacted"] = True
    elif contacted == "stale":
        filters["lastContactedBefore"] = month_ago
    elif contacted == "recent":
        filters["lastContactedAfter"] = month_ago
    custom = [line.strip() for line in ss.get("prospects_custom", "").splitlines() if line.strip()]
    if custom:
        filters["customField"] = custom
    return filters


def views_bar() -> list[dict]:
    try:
        views = call("GET", "/prospects/views", params={"limit": 100})["data"]
    except session.ApiError:
        views = []
    by_id = {v["id"]: v for v in views}
    wanted = st.query_params.get("view")
    if "prospects_view_next" in st.session_state:  # chosen by an action on the previous run (saved, deleted)
        st.session_state["prospects_view"] = st.session_state.pop("prospects_view_next")
    elif wanted in by_id and st.session_state.get("prospects_view_loaded") != wanted:
        st.session_state["prospects_view"] = wanted  # a shared link names the view
    choice_col, save_col = st.columns([3, 2])
    chosen = choice_col.selectbox(
        "View", [None, *by_id], key="prospects_view",
        format_func=lambda v: "All prospects" if v is None else
        by_id[v]["name"] + ("" if by_id[v]["mine"] else " (shared)"))
    if st.session_state.get("prospects_view_loaded") != chosen:
        st.session_state["prospects_view_loaded"] = chosen
        load_view(by_id.get(chosen))
        if chosen:
            st.query_params["view"] = chosen
        else:
            st.query_params.pop("view", None)
    with save_col.popover("Save or share this view", icon=":material/bookmark_add:"):
        with st.form("save_view", clear_on_submit=True):
            name = st.text_input("Name", placeholder="Hot fintech leads")
            shared = st.checkbox("Share with my organization")
            if st.form_submit_button("Save view") and name:
                saved = workspace.act(f"View “{name}” saved.", "POST", "/prospects/views",
                                      json={"name": name, "filters": current_filters(), "shared": shared})
                if saved:
                    st.session_state["prospects_view_next"] = st.session_state["prospects_view_loaded"] = saved["id"]
                    st.query_params["view"] = saved["id"]
                st.rerun()
        if chosen and by_id[chosen]["mine"]:
            if st.button("Update it with the current filters"):
                workspace.act("View updated.", "PUT", f"/prospects/views/{chosen}", json={"filters": current_filters()})
                st.rerun()
            if st.button("Delete this view", icon=":material/delete:"):
                workspace.act("View deleted.", "DELETE", f"/prospects/views/{chosen}")
                st.session_state["prospects_view_next"] = None
                st.query_params.pop("view", None)
                st.rerun()
    return views


def filter_widgets() -> None:
    for key, default in (("prospects_score", (0, 100)), ("prospects_contacted", "any"),
                         ("prospects_sort", "-priorityScore")):
        st.session_state.setdefault(key, default)
    f1, f2, f3, f4 = st.columns([3, 2, 2, 1])
    f1.text_input("Search", placeholder="name, e-mail or company", key="prospects_q")
    f2.multiselect("Status", list(STATUS), format_func=STATUS.get, key="prospects_status")
    f3.multiselect("Intent", list(TIERS), format_func=TIERS.get, key="prospects_tier")
    f4.toggle("Mine", key="prospects_mine")
    with st.expander("More filters and sort"):
        m1, m2, m3 = st.columns(3)
        m1.slider("Lead score", 0, 100, key="prospects_score")
        m2.selectbox("Last contacted", list(CONTACTED), format_func=CONTACTED.get, key="prospects_contacted")
        m3.selectbox("Sort", list(SORTS), format_func=SORTS.get, key="prospects_sort")
        st.text_area("Custom fields", key="prospects_custom", height=68,
                     placeholder="industry:fintech (one per line; all must match)")


def owners() -> dict[str | None, str]:
    """Who a prospect can be given to: the organization's active members (`/team/members`), me first."""
    choices: dict[str | None, str] = {user.user_id: f"Me ({user.full_name or user.email})"}
    try:
        members = call("GET", "/team/members", params={"limit": 100})["data"]
    except session.ApiError:
        members = []
    for m in members:
        choices.setdefault(m["id"], m["fullName"] or m["email"])
    choices[None] = "Nobody (unassign)"
    return choices


def bulk_bar(selected: list[dict], filters: dict, total: int, exact: bool) -> None:
    ids = [p["id"] for p in selected]
    st.markdown(f"**{len(ids)} selected**" if ids else "Select rows to act on several prospects at once.")
    assign, restatus, enroll, remove = st.columns(4)
    with assign.popover("Assign owner", disabled=not ids):
        choices = owners()
        owner = st.selectbox("Owner", list(choices), format_func=choices.get, key="bulk_owner")
        if st.button("Assign", key="bulk_assign"):
            workspace.act(f"{len(ids)} prospects assigned.", "POST", "/prospects/bulk",
                          json={"prospectIds": ids, "action": "assign_owner", "ownerId": owner})
            st.rerun()
    with restatus.popover("Set status", disabled=not ids):
        status = st.selectbox("Status", list(STATUS), format_func=STATUS.get, key="bulk_status")
        if st.button("Set", key="bulk_set_status"):
            workspace.act(f"{len(ids)} prospects set to {STATUS[status]}.", "POST", "/prospects/bulk",
                          json={"prospectIds": ids, "action": "set_status", "status": status})
            st.rerun()
    with enroll.popover("Enroll in a cadence", disabled=not ids):
        try:
            cadences = call("GET", "/cadences", params={"limit": 100, "isActive": True})["data"]
        except session.ApiError:
            cadences = []
        if not cadences:
            st.caption("No active cadence: build one on the Cadences page.")
        else:
            chosen = st.selectbox("Cadence", cadences, format_func=lambda c: c["name"], key="bulk_cadence")
            if st.button("Enroll", key="bulk_enroll"):
                result = workspace.act("Enrolled.", "POST", f"/cadences/{chosen['id']}/enroll",
                                       json={"prospectIds": ids})
                if result is not None:
                    outcome = pd.Series([r["result"] for r in result.get("results", [])]).value_counts()
                    workspace.flash("success", "Enrollment: " + ", ".join(
                        f"{n} {label(k).lower()}" for k, n in outcome.items()))
                st.rerun()
    with remove.popover("Delete", disabled=not ids, icon=":material/delete:"):
        st.warning(f"Delete {len(ids)} prospects and their timelines? This cannot be undone.")
        if st.button("Delete them", key="bulk_delete", type="primary"):
            workspace.act(f"{len(ids)} prospects deleted.", "POST", "/prospects/bulk",
                          json={"prospectIds": ids, "action": "delete"})
            st.rerun()
    matching = f"{total:,}" if exact else f"{total - 1:,}+"
    if st.button(f"Export the {matching} matching prospects as CSV", icon=":material/download:"):
        try:
            st.session_state["prospects_csv_export"] = call("GET", "/prospects/export", params=filters, raw=True)
        except session.ApiError as exc:
            st.error(f"Export refused: {exc.message}")
    if st.session_state.get("prospects_csv_export"):
        st.download_button("Download prospects.csv", st.session_state["prospects_csv_export"],
                           file_name="prospects.csv", mime="text/csv", on_click="ignore")


def listing() -> None:
    views_bar()
    filter_widgets()
    filters = current_filters()
    signature = repr(sorted(filters.items()))
    if st.session_state.get("prospects_filters") != signature:  # new filters: back to the first page
        st.session_state["prospects_filters"], st.session_state["prospects_page"] = signature, 1
        st.session_state.pop("prospects_csv_export", None)
    params = {**filters, "limit": PAGE_SIZE, "page": st.session_state["prospects_page"]}
    try:
        page = call("GET", "/prospects", params=params)
    except session.ApiError as exc:
        st.error(f"Cannot load prospects: {exc.message}", icon=":material/cloud_off:")
        return
    meta = page["pagination"]
    if not page["data"]:
        st.info("No prospects match. Add one below or import a CSV.", icon=":material/person_add:")
    else:
        bulk_mode = st.toggle("Select several", key="prospects_bulk_mode",
                              help="Off: a click opens the prospect. On: pick rows to assign, re-status, enroll "
                                   "or delete together.")
        frame = pd.DataFrame([{
            "Name": person(p), "Company": p.get("company") or "—", "Title": p.get("title") or "—",
            "Status": STATUS.get(p["status"], label(p["status"])), "Score": p["priorityScore"],
            "Intent": TIERS.get(p["intentTier"], "—"), "Last contacted": (p["lastContactedAt"] or "")[:10],
        } for p in page["data"]])
        picked = st.dataframe(frame, hide_index=True, width="stretch", on_select="rerun",
                              selection_mode="multi-row" if bulk_mode else "single-row",
                              key=f"prospects_table_{'bulk' if bulk_mode else 'open'}",
                              column_config={"Score": st.column_config.ProgressColumn(
                                  "Score", min_value=0, max_value=100, format="%d")})
        rows = picked.selection.rows if picked and picked.selection else []
        if rows and not bulk_mode:
            open_record(page["data"][rows[0]]["id"])
            st.rerun()
        n1, n2, n3 = st.columns([1, 3, 1])
        current = meta["page"]
        if n1.button("Previous", disabled=current <= 1):
            st.session_state["prospects_page"] = current - 1
            st.rerun()
        if meta.get("totalExact", True):
            n2.caption(f"Page {current} of {max(meta['pages'], 1)} · {meta['total']:,} prospects")
        else:  # a large book: the API stopped counting (docs/dashboards.md)
            n2.caption(f"Page {current} · more than {meta['total'] - 1:,} prospects")
        if n3.button("Next", disabled=current >= meta["pages"]):
            st.session_state["prospects_page"] = current + 1
            st.rerun()
        if bulk_mode:
            bulk_bar([page["data"][i] for i in rows], filters, meta["total"], meta.get("totalExact", True))

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

"""Deals: my pipeline as a board (one column per stage, a deal moves with one click to the stage it goes to), and
a deal's record — health with its risk reasons, contacts and their buying roles, the forecast category overridden
with a note, and win/loss captured with the reason when it closes — through the API as the signed-in user.
`?deal=<id>` keeps a deal open across reloads and links."""

from __future__ import annotations

import streamlit as st

from dashboards.components import formatting, session, workspace
from dashboards.components.workspace import call, label, person

STAGES = ["discovery", "qualification", "proposal", "negotiation", "closed_won", "closed_lost"]
OPEN = STAGES[:4]
CATEGORIES = ["pipeline", "best_case", "commit", "closed", "omitted"]
ROLES = ["decision_maker", "economic_buyer", "champion", "influencer", "technical_buyer", "end_user", "blocker",
         "other"]
user = session.current()
st.title("Deals")
workspace.show_flash()


def board() -> None:
    mine = st.toggle("Only my deals", value=True, key="deals_mine")
    params = {"limit": 200, "sort": "-amount", "stage": ",".join(OPEN)}
    if mine:
        params["ownerId"] = user.user_id
    try:
        deals = call("GET", "/deals", params=params)["data"]
    except session.ApiError as exc:
        st.error(f"Cannot load deals: {exc.message}")
        return
    if not deals:
        st.info("No open deals. Create one below.", icon=":material/handshake:")
    columns = st.columns(len(OPEN))
    for column, stage in zip(columns, OPEN, strict=True):
        in_stage = [d for d in deals if d["stage"] == stage]
        column.markdown(f"**{label(stage)}** · {formatting.money(sum(float(d['amount']) for d in in_stage))}")
        for deal in in_stage:
            with column.container(border=True):
                st.markdown(f"**{deal['name']}**  \n{formatting.money(float(deal['amount']))} · "
                            f"{deal['probability']}% · closes {deal['closeDate'] or '—'}")
                if st.button("Open", key=f"open_{deal['id']}"):
                    st.query_params["deal"] = deal["id"]
                    st.rerun()
                target = st.selectbox("Move to", [stage, *[s for s in STAGES if s != stage]], format_func=label,
                                      key=f"move_{deal['id']}", label_visibility="collapsed")
                if target != stage:
                    workspace.act(f"{deal['name']} moved to {label(target)}.", "PUT", f"/deals/{deal['id']}",
                                  json={"stage": target})
                    st.rerun()
    with st.form("new_deal", clear_on_submit=True):
        st.markdown("**New deal**")
        a, b, c = st.columns(3)
        name = a.text_input("Deal name")
        amount = b.number_input("Amount", min_value=0.0, step=1000.0)
        close = c.date_input("Close date", value=None)
        if st.form_submit_button("Create deal"):
            body = {"name": name, "amount": amount, "closeDate": close.isoformat() if close else None}
            workspace.act(f"Deal “{name}” created.", "POST", "/deals", json={k: v for k, v in body.items() if v})
            st.rerun()


def record(deal_id: str) -> None:
    found = workspace.fetch_record("deal", "deal", f"/deals/{deal_id}", back="Back to the board")
    if found is None:
        return
    deal = found[0]
    head, back = st.columns([5, 1])
    head.subheader(deal["name"])
    if back.button("Board", icon=":material/arrow_back:"):
        st.query_params.pop("deal", None)
        st.rerun()
    m = st.columns(4)
    m[0].metric("Amount", formatting.money(float(deal["amount"])))
    m[1].metric("Stage", label(deal["stage"]))
    m[2].metric("Forecast", label(deal["forecastCategory"]) + (" (set by hand)" if deal["forecastCategoryManual"]
                                                               else ""))
    try:
        health = call("GET", f"/deals/{deal_id}/health")
    except session.ApiError:
        health = None
    m[3].metric("Health", "—" if health is None else f"{health['score']} · {label(health['level'])}")
    if health and health["reasons"]:
        st.markdown("**Why**")
        for reason in health["reasons"]:
            st.markdown(f"- {reason['message']}")
    contacts_col, forecast_col = st.columns(2)
    with contacts_col:
        st.markdown("**Contacts**")
        try:
            contacts = call("GET", f"/deals/{deal_id}/contacts", params={"limit": 100})["data"]
        except session.ApiError:
            contacts = []
        if not contacts:
            st.caption("No contacts yet: add the people buying.")
        for contact in contacts:
            who = person(contact["prospect"]) if contact.get("prospect") else "a deleted prospect"
            st.markdown(f"{who} · {label(contact.get('role'))}" + (" · primary" if contact["isPrimary"] else ""))
        q = st.text_input("Add a contact", placeholder="search prospects", key="deal_contact_q")
        found = call("GET", "/prospects", params={"q": q, "limit": 20})["data"] if q else []
        if found:
            names = {p["id"]: f"{person(p)} <{p['email']}>" for p in found}
            pick = st.selectbox("Prospect", list(names), format_func=names.get, key="deal_contact_pick")
            role = st.selectbox("Buying role", ROLES, format_func=label, key="deal_contact_role")
            if st.button("Add contact"):
                workspace.act("Contact added.", "POST", f"/deals/{deal_id}/contacts",
                              json={"prospectId": pick, "role": role})
                st.rerun()
    with forecast_col, st.form("forecast"):
        st.markdown("**Forecast category**")
        category = st.selectbox("Category", CATEGORIES, index=CATEGORIES.index(deal["forecastCategory"]),
                                format_func=label)
        note = st.text_input("Why (kept on the timeline)")
        if st.form_submit_button("Override"):
            if workspace.act("Forecast category set.", "PUT", f"/deals/{deal_id}",
                             json={"forecastCategory": category}) is not None and note:
                workspace.act("Forecast category set.", "POST", "/activities", json={
                    "type": "note_added", "dealId": deal_id, "subject": f"Forecast set to {label(category)}",
                    "description": note})
            st.rerun()
    if deal["stage"] in OPEN:
        with st.form("close"):
            st.markdown("**Close the deal**")
            outcome = st.radio("Outcome", ["closed_won", "closed_lost"], format_func=label, horizontal=True)
            reason = st.text_input("Reason (required when lost)")
            if st.form_submit_button("Close"):
                if outcome == "closed_lost" and not reason:
                    st.error("Say why the deal was lost.")
                else:
                    body = {"stage": outcome, **({"lostReason": reason} if outcome == "closed_lost" else {})}
                    workspace.act(f"Deal {label(outcome).lower()}.", "PUT", f"/deals/{deal_id}", json=body)
                    if reason and outcome == "closed_won":
                        workspace.act(f"Deal {label(outcome).lower()}.", "POST", "/activities", json={
                            "type": "note_added", "dealId": deal_id, "subject": "Won", "description": reason})
                    st.rerun()
    elif deal.get("lostReason"):
        st.caption(f"Lost: {deal['lostReason']}")


if st.query_params.get("deal"):
    record(st.query_params["deal"])
else:
    board()

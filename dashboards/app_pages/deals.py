"""Deals: my pipeline as a board (one column per stage; a deal is dragged to the stage it reaches, or moved from
the keyboard), and a deal's record — health with its risk reasons, contacts and their buying roles, the forecast
category overridden with a note, and win/loss captured with the reason when it closes — through the API as the
signed-in user. `?deal=<id>` keeps a deal open across reloads and links."""

from __future__ import annotations

import streamlit as st
from streamlit_sortables import sort_items

from dashboards.components import formatting, session, workspace
from dashboards.components.workspace import call, label, person

STAGES = ["discovery", "qualification", "proposal", "negotiation", "closed_won", "closed_lost"]
OPEN = STAGES[:4]
CATEGORIES = ["pipeline", "best_case", "commit", "closed", "omitted"]
ROLES = ["decision_maker", "economic_buyer", "champion", "influencer", "technical_buyer", "end_user", "blocker",
         "other"]
# the board's columns side by side, cards that read as cards
BOARD_STYLE = """
.sortable-component { display: flex; gap: 0.5rem; align-items: flex-start; }
.sortable-container { flex: 1; min-width: 0; margin: 0; padding: 0; }
.sortable-container-header { font-weight: 600; padding: 0.4rem 0.2rem; }
.sortable-container-body { background-color: #f4f6f8; border-radius: 0.5rem; min-height: 4rem; }
.sortable-item { background-color: #ffffff; color: #1f2933; border: 1px solid #d9e2ec; border-radius: 0.4rem;
                 margin: 0.3rem; padding: 0.4rem 0.5rem; font-size: 0.85rem; }
"""
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
    else:
        cards: dict[str, dict] = {}  # the card's text (what the board hands back) → its deal
        containers = []
        for stage in OPEN:
            in_stage = [d for d in deals if d["stage"] == stage]
            items = []
            for deal in in_stage:
                text = base = (f"{deal['name']} · {formatting.money(float(deal['amount']))} · "
                               f"closes {deal['closeDate'] or '—'}")
                copy = 2
                while text in cards:  # two deals that read alike stay two cards
                    text, copy = f"{base} ({copy})", copy + 1
                cards[text] = deal
                items.append(text)
            total = formatting.money(sum(float(d["amount"]) for d in in_stage))
            containers.append({"header": f"{label(stage)} · {total}", "items": items})
        st.caption("Drag a deal to the stage it has reached; closing (won or lost, with the reason) is on its record.")
        # keyed by the board's content, so a change made anywhere redraws it from the API's state
        arranged = sort_items(containers, multi_containers=True, direction="horizontal", custom_style=BOARD_STYLE,
                              key=f"deals_board_{abs(hash(tuple(sorted((d['id'], d['stage']) for d in deals))))}")
        for stage, container in zip(OPEN, arranged, strict=True):
            for text in container["items"]:
                deal = cards.get(text)
                if deal is not None and deal["stage"] != stage:
                    workspace.act(f"{deal['name']} moved to {label(stage)}.", "PUT", f"/deals/{deal['id']}",
                                  json={"stage": stage})
                    st.rerun()
        names = {d["id"]: f"{d['name']} ({label(d['stage'])})" for d in deals}
        pick_col, move_col, to_col = st.columns([3, 2, 1])
        chosen = pick_col.selectbox("A deal", list(names), format_func=names.get, key="deals_pick")
        target = move_col.selectbox("Move it to", STAGES[:4], format_func=label, key="deals_move_to",
                                    help="The same as dragging its card, for the keyboard")
        if to_col.button("Move", key="deals_move"):
            workspace.act(f"{next(d['name'] for d in deals if d['id'] == chosen)} moved to {label(target)}.",
                          "PUT", f"/deals/{chosen}", json={"stage": target})
            st.rerun()
        if to_col.button("Open", key="deals_open"):
            st.query_params["deal"] = chosen
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

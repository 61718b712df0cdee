"""Accounts: find an account, see where it sits in its hierarchy (a tree from the top-level account down), its
health with the components behind it, its contacts, its deals and its activity. The record is read through the
API as the signed-in user (health components from the `dim_account_health` mart); `?account=<id>` keeps it open."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.components import formatting, session, workspace
from dashboards.components.workspace import call, label, person
from dashboards.data import accounts as data
from dashboards.data.db import DataUnavailable
from serving.core.config import NotConfigured

user = session.current()
st.title("Accounts")
workspace.show_flash()


def tree_lines(nodes: list[dict], current: str) -> list[str]:
    lines = []
    for node in nodes:
        marker = "**" if node["id"] == current else ""
        lines.append(f"{'    ' * node['depth']}- {marker}{node['name']}{marker}")
        lines.extend(tree_lines(node.get("children", []), current))
    return lines


def record(account_id: str) -> None:
    found = workspace.fetch_record("account", "account", f"/accounts/{account_id}",
                                   f"/accounts/{account_id}/hierarchy")
    if found is None:
        return
    account, hierarchy = found
    head, back = st.columns([5, 1])
    head.subheader(account["name"])
    head.caption(" · ".join(x for x in (account.get("domain"), account.get("industry"), account.get("country"))
                            if x))
    if back.button("All accounts", icon=":material/arrow_back:"):
        st.query_params.pop("account", None)
        st.rerun()
    try:
        health = data.health(user.organization_id, account_id)
    except (DataUnavailable, NotConfigured):  # marts not built (or no database for the dashboards): the API's score
        health = pd.DataFrame()
    m = st.columns(4)
    m[0].metric("Health", "—" if account["healthScore"] is None else account["healthScore"],
                help=None if health.empty else f"tier {health.iloc[0]['health_tier']}")
    m[1].metric("Intent", "—" if account["intentScore"] is None else account["intentScore"])
    m[2].metric("Employees", formatting.number(account.get("employeeCount")))
    m[3].metric("Revenue", formatting.money(float(account["annualRevenue"])) if account.get("annualRevenue")
                else "—")
    if not health.empty:
        row = health.iloc[0]
        parts = pd.DataFrame({"Component": ["Engagement", "Intent", "Deal risk (inverted)"],
                              "Score": [row["engagement_score"], row["intent_score"],
                                        None if pd.isna(row["avg_deal_risk"]) else 100 - row["avg_deal_risk"]]})
        st.bar_chart(parts.set_index("Component"), height=180, horizontal=True)
    tree_tab, contacts_tab, deals_tab, activity_tab = st.tabs(["Hierarchy", "Contacts", "Deals", "Activity"])
    with tree_tab:
        top = hierarchy["ancestors"][0] if hierarchy["ancestors"] else hierarchy["account"]
        lines = [f"- {'**' if top['id'] == account_id else ''}{top['name']}{'**' if top['id'] == account_id else ''}"]
        chain = hierarchy["ancestors"][1:] + ([hierarchy["account"]] if hierarchy["ancestors"] else [])
        for depth, node in enumerate(chain, 1):
            marker = "**" if node["id"] == account_id else ""
            lines.append(f"{'    ' * depth}- {marker}{node['name']}{marker}")
        base = len(chain)
        lines.extend(tree_lines([{**n, "depth": n["depth"] + base} for n in hierarchy["descendants"]], account_id))
        st.markdown("\n".join(lines))
        if hierarchy["truncated"]:
            st.caption(f"{hierarchy['descendantCount']:,} accounts below; the tree is cut.")
    with contacts_tab:
        contacts = call("GET", f"/accounts/{account_id}/contacts", params={"limit": 50})["data"]
        if not contacts:
            st.caption("No contacts at this account yet.")
        for p in contacts:
            st.page_link("app_pages/prospects.py", label=f"{person(p)} · {p.get('title') or '—'}",
                         query_params={"prospect": p["id"]}, icon=":material/person:")
    with deals_tab:
        deals = call("GET", f"/accounts/{account_id}/deals", params={"limit": 50})["data"]
        if not deals:
            st.caption("No deals with this account.")
        for d in deals:
            st.page_link("app_pages/deals.py", label=f"{d['name']} · {label(d['stage'])} · "
                         f"{formatting.money(float(d['amount']))}", query_params={"deal": d["id"]},
                         icon=":material/handshake:")
    with activity_tab:
        items = call("GET", f"/accounts/{account_id}/activities", params={"limit": 30})["data"]
        if not items:
            st.caption("No activity yet.")
        for item in items:
            st.markdown(f"**{label(item['type'])}** · {item['occurredAt'][:10]}"
                        + (f" — {item['subject']}" if item.get("subject") else ""))


def listing() -> None:
    q = st.text_input("Search accounts", placeholder="name or domain", key="accounts_q")
    params = {"limit": 50, "sort": "name"} | ({"q": q} if q else {})
    try:
        page = call("GET", "/accounts", params=params)
    except session.ApiError as exc:
        st.error(f"Cannot load accounts: {exc.message}")
        return
    if not page["data"]:
        st.info("No accounts match.", icon=":material/domain:")
        return
    frame = pd.DataFrame([{"Account": a["name"], "Domain": a.get("domain") or "—",
                           "Industry": a.get("industry") or "—", "Health": a.get("healthScore"),
                           "Intent": a.get("intentScore")} for a in page["data"]])
    picked = st.dataframe(frame, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                          key="accounts_table")
    if picked and picked.selection and picked.selection.rows:
        st.query_params["account"] = page["data"][picked.selection.rows[0]]["id"]
        st.rerun()
    st.caption(f"{page['pagination']['total']:,} accounts")


if st.query_params.get("account"):
    record(st.query_params["account"])
else:
    listing()

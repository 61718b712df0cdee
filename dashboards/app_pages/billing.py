"""Plan and billing: the plan, how much of it is used, the plans side by side, and for admins the subscription
(upgrade, cancel, the Stripe Billing Portal) and the invoices — all through the API as the signed-in user."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.components import session

FLASH = "billing_flash"
user = session.current()
st.title("Plan and billing")


def call(method: str, path: str, body=None):
    return session.api_call(method, f"/billing{path}", token=user.token, json=body)


def act(message: str, method: str, path: str, body=None) -> None:
    try:
        call(method, path, body)
    except session.ApiError as exc:
        st.session_state[FLASH] = ("error", f"{message} failed: {exc.message}")
    else:
        st.session_state[FLASH] = ("success", f"{message}.")
    st.rerun()


if FLASH in st.session_state:
    kind, text = st.session_state.pop(FLASH)
    (st.success if kind == "success" else st.error)(text)

try:
    sub = call("GET", "/subscription")
except session.ApiError as exc:
    st.error(f"Cannot load the plan: {exc.message}", icon=":material/cloud_off:")
    st.stop()

price = "custom pricing" if sub["monthlyPriceUsd"] is None else f"${float(sub['monthlyPriceUsd']):,.0f}/month"
c1, c2, c3 = st.columns(3)
c1.metric("Plan", sub["planName"], help=price)
prospects = sub["usage"]["prospects"]
c2.metric("Prospects", f"{prospects['used']:,}", help="prospects in the CRM")
c3.metric("Limit", "unlimited" if prospects["limit"] is None else f"{prospects['limit']:,}")
if not sub["limitsEnforced"]:
    st.info("Plan limits are turned off on this installation (PLAN_LIMITS_ENABLED=false).", icon=":material/info:")
elif prospects["limit"] is not None:
    share = min(prospects["used"] / prospects["limit"], 1.0)
    st.progress(share, text=f"{share:.0%} of the {sub['planName']} plan's prospects used")
    if prospects["overLimit"]:
        st.warning("Over the plan's limit: new prospects are refused until the plan is upgraded or prospects are "
                   "removed.", icon=":material/warning:")
if sub["status"]:
    period = (sub["currentPeriodEnd"] or "")[:10]
    st.caption(f"Subscription {sub['status'].replace('_', ' ')}"
               + (f" · ends {period} (cancelled)" if sub["cancelAtPeriodEnd"] else f" · renews {period}"
                  if period else "")
               + (f" · card {sub['paymentMethod']['brand']} ••{sub['paymentMethod']['last4']}"
                  if sub["paymentMethod"] else ""))

st.subheader("Plans")
table = pd.DataFrame([{
    "Plan": p["name"],
    "Price": "Custom" if p["monthlyPriceUsd"] is None else f"${float(p['monthlyPriceUsd']):,.0f}/mo",
    "Prospects": "Unlimited" if p["maxProspects"] is None else f"{p['maxProspects']:,}",
    "Current": "✓" if p["plan"] == sub["plan"] else "",
} for p in sub["plans"]])
st.dataframe(table, hide_index=True, width="stretch")

if user.role != "admin":
    st.caption("Only admins change the plan.")
    st.stop()

if not sub["billingConfigured"]:
    st.info("Stripe is not configured on this installation (STRIPE_SECRET_KEY): an operator sets plans with "
            "`revorc set-plan <organization> <plan>`.", icon=":material/info:")
    st.stop()

buyable = [p for p in sub["plans"] if p["selfServe"] and p["plan"] != sub["plan"]]
cols = st.columns(max(len(buyable), 1) + 2)
for col, p in zip(cols, buyable, strict=False):
    if col.button(f"Switch to {p['name']}", key=f"upgrade_{p['plan']}", icon=":material/upgrade:"):
        act(f"Moved to {p['name']}", "POST", "/subscription/upgrade", {"plan": p["plan"]})
live = sub["status"] in ("active", "trialing", "past_due")
if cols[-2].button("Cancel at period end", disabled=not live or sub["cancelAtPeriodEnd"], icon=":material/cancel:"):
    act("Cancelled at the end of the period", "POST", "/subscription/cancel", {"atPeriodEnd": True})
if cols[-1].button("Open billing portal", icon=":material/open_in_new:"):
    try:
        st.session_state["billing_portal"] = call("GET", "/portal")["url"]
    except session.ApiError as exc:
        st.error(f"Cannot open the portal: {exc.message}")
if st.session_state.get("billing_portal"):
    st.link_button("Continue to Stripe", st.session_state["billing_portal"], icon=":material/open_in_new:")

st.subheader("Invoices")
try:
    invoices = call("GET", "/invoices?limit=50")["data"]
except session.ApiError as exc:
    st.error(f"Cannot load invoices: {exc.message}")
    invoices = []
if not invoices:
    st.caption("No invoices yet: they appear here when Stripe issues them.")
else:
    st.dataframe(pd.DataFrame([{
        "Number": i["number"] or "—", "Issued": (i["issuedAt"] or "")[:10], "Status": (i["status"] or "").title(),
        "Amount": f"{i['amountDue'] / 100:,.2f} {i['currency'].upper()}",
        "Paid": f"{i['amountPaid'] / 100:,.2f}", "Invoice": i["hostedInvoiceUrl"],
    } for i in invoices]), hide_index=True, width="stretch",
        column_config={"Invoice": st.column_config.LinkColumn("Invoice", display_text="Open")})

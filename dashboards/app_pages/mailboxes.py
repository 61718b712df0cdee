"""Mailboxes: the addresses e-mail is sent from, each with its daily cap and today's use, and the warm-up ramp of
a new one drawn day by day (the API computes it: `warmupSchedule`); add one, change its caps or pause it — through
the API as the signed-in user."""

from __future__ import annotations

from datetime import UTC, datetime

import altair as alt
import pandas as pd
import streamlit as st

from dashboards.components import session, workspace
from dashboards.components.workspace import call

st.title("Mailboxes")
st.caption("Where e-mail is sent from. A new address should warm up: it starts with a few e-mails a day and grows "
           "daily to its cap, so mailbox providers learn to trust it. Check the sending domain's SPF, DKIM and "
           "DMARC on the E-mail page.")
workspace.show_flash()


def body_of(mailbox: dict, **changes) -> dict:
    """`PUT /mailboxes/{id}` replaces the mailbox: the fields it keeps, with the ones changed."""
    keep = ("email", "displayName", "userId", "dailyCap", "warmupEnabled", "warmupStartedOn", "warmupStartCap",
            "warmupDailyIncrease", "isActive")
    return {**{k: mailbox[k] for k in keep}, **changes}


def ramp_chart(mailbox: dict) -> None:
    frame = pd.DataFrame(mailbox["warmupSchedule"])
    frame["date"] = pd.to_datetime(frame["date"])
    line = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("date:T", title=None), y=alt.Y("cap:Q", title="E-mails a day"),
        tooltip=[alt.Tooltip("date:T", title="Day"), alt.Tooltip("cap:Q", title="Cap")])
    target = alt.Chart(pd.DataFrame({"cap": [mailbox["dailyCap"]]})).mark_rule(strokeDash=[4, 4]).encode(y="cap:Q")
    st.altair_chart(line + target, width="stretch")
    st.caption(f"Warming up: {mailbox['todaysCap']} today, reaching {mailbox['dailyCap']} a day on "
               f"{frame['date'].iloc[-1]:%d %b}.")


def mailbox_card(mailbox: dict) -> None:
    with st.container(border=True):
        head, state = st.columns([4, 1])
        head.markdown(f"**{mailbox['displayName'] or mailbox['email']}**  \n{mailbox['email']}")
        state.markdown(":green[Active]" if mailbox["isActive"] else ":orange[Paused]")
        cap = mailbox["todaysCap"] or mailbox["dailyCap"]
        st.progress(min(mailbox["sentToday"] / cap, 1.0) if cap else 0.0,
                    text=f"{mailbox['sentToday']} of {cap} sent today")
        if mailbox["warmupSchedule"]:
            ramp_chart(mailbox)
        with st.expander("Change caps and warm-up"), st.form(f"edit_{mailbox['id']}"):
            daily = st.number_input("Daily cap", 1, 100_000, mailbox["dailyCap"])
            warm = st.toggle("Warm up", mailbox["warmupEnabled"])
            c1, c2 = st.columns(2)
            start = c1.number_input("First day's cap", 1, 100_000, mailbox["warmupStartCap"])
            step = c2.number_input("Added each day", 0, 100_000, mailbox["warmupDailyIncrease"])
            active = st.toggle("Sending", mailbox["isActive"])
            if st.form_submit_button("Save"):
                started = mailbox["warmupStartedOn"]
                if warm and (not mailbox["warmupEnabled"] or started is None):
                    started = datetime.now(UTC).isoformat()  # turning warm-up on starts the ramp today
                workspace.act("Mailbox saved.", "PUT", f"/mailboxes/{mailbox['id']}", json=body_of(
                    mailbox, dailyCap=int(daily), warmupEnabled=warm, warmupStartCap=int(start),
                    warmupDailyIncrease=int(step), isActive=active, warmupStartedOn=started if warm else None))
                st.rerun()


try:
    mailboxes = call("GET", "/mailboxes", params={"limit": 100})["data"]
except session.ApiError as exc:
    st.error(f"Cannot load mailboxes: {exc.message}")
    mailboxes = []

if not mailboxes:
    st.info("No mailbox yet: add the address you send from below.", icon=":material/mail:")
for item in mailboxes:
    mailbox_card(item)

with st.form("add_mailbox", clear_on_submit=True):
    st.markdown("**Add a mailbox**")
    a, b = st.columns(2)
    email = a.text_input("Address", placeholder="riley@yourcompany.com")
    name = b.text_input("Name shown to recipients", placeholder="Riley Rep")
    c, d, e = st.columns(3)
    daily = c.number_input("Daily cap", 1, 100_000, 200)
    start = d.number_input("First day's cap", 1, 100_000, 20)
    step = e.number_input("Added each day", 0, 100_000, 10)
    warm = st.toggle("Warm it up (recommended for a new address)", value=True)
    if st.form_submit_button("Add mailbox"):
        workspace.act(f"{email} added.", "POST", "/mailboxes", json={
            "email": email, "displayName": name or None, "userId": session.current().user_id,
            "dailyCap": int(daily), "warmupEnabled": warm, "warmupStartCap": int(start),
            "warmupDailyIncrease": int(step),
            "warmupStartedOn": datetime.now(UTC).isoformat() if warm else None})
        st.rerun()

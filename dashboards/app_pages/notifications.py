"""Notification centre: my notifications (read, unread, archive, snooze, mark all read) and my preferences — all
through the API as the signed-in user."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st

from dashboards.components import formatting, notifications, session

FLASH = "notifications_flash"
PRIORITIES = ["urgent", "high", "medium", "low"]
SNOOZES = {"1 hour": timedelta(hours=1), "4 hours": timedelta(hours=4), "1 day": timedelta(days=1),
           "1 week": timedelta(weeks=1)}
PRIORITY_ICONS = {"urgent": ":material/priority_high:", "high": ":material/arrow_upward:",
                  "medium": ":material/remove:", "low": ":material/arrow_downward:"}

user = session.current()
st.title("Notifications")


def run(message: str, method: str, path: str, body=None) -> None:
    try:
        notifications.act(user, method, path, body)
    except session.ApiError as exc:
        st.session_state[FLASH] = ("error", f"{message} failed: {exc.message}")
    else:
        st.session_state[FLASH] = ("success", f"{message}.")


if FLASH in st.session_state:
    kind, text = st.session_state.pop(FLASH)
    (st.success if kind == "success" else st.error)(text)

inbox, settings = st.tabs(["Inbox", "Preferences"])

with inbox:
    c1, c2, c3 = st.columns([1, 2, 1])
    unread_only = c1.toggle("Unread only", key="notifications_unread")
    priority = c2.multiselect("Priority", PRIORITIES, key="notifications_priority")
    try:
        page = notifications.listing(user, unread_only=unread_only, priority=priority)
    except session.ApiError as exc:
        st.error(f"Cannot load notifications: {exc.message}", icon=":material/cloud_off:")
        st.stop()
    st.metric("Unread", page["unreadCount"])
    if c3.button("Mark all read", icon=":material/done_all:", disabled=not page["unreadCount"]):
        run("Marked all read", "POST", "/mark-all-read")
        st.rerun()
    if not page["data"]:
        st.info("Nothing here.", icon=":material/info:")
    for note in page["data"]:
        nid = note["id"]
        with st.container(border=True):
            head, actions = st.columns([3, 2])
            count = f" ×{note['count']}" if note["count"] > 1 else ""
            weight = "**" if note["readAt"] is None else ""
            head.markdown(f"{weight}{note['title']}{count}{weight}")
            head.caption(f"{note['priority']} · {note['type']} · {formatting.when(note['updatedAt'])}"
                         + (f" · {note['body']}" if note["body"] else ""))
            a1, a2, a3 = actions.columns(3)
            if note["readAt"] is None:
                if a1.button("Read", key=f"read_{nid}", icon=":material/drafts:"):
                    run("Marked read", "PUT", f"/{nid}/read")
                    st.rerun()
            elif a1.button("Unread", key=f"unread_{nid}", icon=":material/mark_email_unread:"):
                run("Marked unread", "PUT", f"/{nid}/unread")
                st.rerun()
            if a2.button("Archive", key=f"archive_{nid}", icon=":material/archive:"):
                run("Archived", "DELETE", f"/{nid}")
                st.rerun()
            choice = a3.selectbox("Snooze", ["—", *SNOOZES], key=f"snooze_{nid}", label_visibility="collapsed")
            if choice != "—":
                until = (datetime.now(UTC) + SNOOZES[choice]).isoformat()
                run(f"Snoozed for {choice}", "POST", f"/{nid}/snooze", {"until": until})
                st.rerun()

with settings:
    try:
        prefs = notifications.act(user, "GET", "/preferences")
    except session.ApiError as exc:
        st.error(f"Cannot load preferences: {exc.message}")
        st.stop()
    channels = prefs["channels"]
    email = channels.get("email", {})
    with st.form("notification_preferences"):
        in_app = st.checkbox("In the app", value=channels.get("inApp", {}).get("enabled", True))
        email_on = st.checkbox("By e-mail", value=email.get("enabled", True))
        frequencies = ["instant", "hourly", "daily", "weekly"]
        frequency = st.selectbox("E-mail frequency", frequencies,
                                 index=frequencies.index(email.get("frequency", "daily")))
        q1, q2 = st.columns(2)
        quiet_start = q1.text_input("Quiet hours from (HH:MM)", value=email.get("quietHoursStart") or "")
        quiet_end = q2.text_input("Quiet hours until (HH:MM)", value=email.get("quietHoursEnd") or "")
        timezone = st.text_input("Time zone (IANA)", value=prefs["timezone"])
        urgent = st.checkbox("Urgent notifications break through quiet hours",
                             value=prefs["urgentOverridesQuietHours"])
        push = st.checkbox("Browser push", value=channels.get("push", {}).get("enabled", False))
        sms = st.checkbox("SMS (high and urgent only)", value=channels.get("sms", {}).get("enabled", False))
        saved = st.form_submit_button("Save preferences")
    if saved:
        body = {
            "channels": {"inApp": {**channels.get("inApp", {}), "enabled": in_app},
                         "email": {"enabled": email_on, "frequency": frequency,
                                   "quietHoursStart": quiet_start or None, "quietHoursEnd": quiet_end or None},
                         "push": {"enabled": push}, "sms": {"enabled": sms}},
            "eventOverrides": prefs["eventOverrides"], "timezone": timezone, "urgentOverridesQuietHours": urgent,
        }
        run("Preferences saved", "PUT", "/preferences", body)
        st.rerun()

"""My settings: my profile, my preferences (theme, time zone, language, notification e-mails and desktop alerts,
the weekly summary), two-factor sign-in with an authenticator app, my password, my address confirmation —
through the API (`/me/...`) as myself."""

from __future__ import annotations

from zoneinfo import available_timezones

import streamlit as st

from dashboards.components import account, session, workspace
from dashboards.components.workspace import call

user = session.current()
st.title("My settings")
workspace.show_flash()
LANGUAGES = {"en": "English", "fr": "Français", "de": "Deutsch", "es": "Español", "pt": "Português",
             "it": "Italiano", "nl": "Nederlands"}
FREQUENCIES = {"instant": "As they happen", "hourly": "Hourly digest", "daily": "Daily digest",
               "weekly": "Weekly digest"}
ZONES = sorted(available_timezones())


def saved(message: str, method: str, path: str, **kwargs) -> None:
    if workspace.act(message, method, path, **kwargs) is not None:
        account.refresh()  # theme, time zone and banners follow on the next run
    st.rerun()


profile_tab, prefs_tab, security_tab = st.tabs(["Profile", "Preferences", "Sign-in and security"])

with profile_tab:
    profile = call("GET", "/me/profile")
    with st.form("profile"):
        name = st.text_input("Name", profile["fullName"] or "")
        title = st.text_input("Title", profile["title"] or "")
        phone = st.text_input("Phone", profile["phone"] or "")
        if st.form_submit_button("Save profile"):
            saved("Profile saved.", "PUT", "/me/profile",
                  json={"fullName": name or None, "title": title or None, "phone": phone or None})
    st.caption(f"{profile['email']} · " + ("address confirmed" if profile["emailVerified"] else "address not "
                                                                                                 "confirmed yet"))
    if not profile["emailVerified"] and st.button("Send the confirmation link again"):
        saved("A new link is on its way.", "POST", "/me/verify-email")

with prefs_tab:
    prefs = call("GET", "/me/preferences")
    with st.form("preferences"):
        a, b = st.columns(2)
        theme = a.radio("Theme", ["light", "dark"], index=["light", "dark"].index(prefs["theme"]),
                        format_func=str.capitalize, horizontal=True)
        language = b.selectbox("Language", list(LANGUAGES), index=list(LANGUAGES).index(prefs["language"]),
                               format_func=LANGUAGES.get)
        zone = st.selectbox("Time zone", ZONES, index=ZONES.index(prefs["timezone"]) if prefs["timezone"] in ZONES
                            else ZONES.index("UTC"), help="Dates on every page, and your quiet hours, follow it")
        st.markdown("**Notifications**")
        email_on = st.toggle("E-mail me notifications", prefs["emailNotifications"])
        frequency = st.selectbox("How often", list(FREQUENCIES), index=list(FREQUENCIES).index(
            prefs["emailFrequency"]), format_func=FREQUENCIES.get)
        desktop = st.toggle("Desktop alerts", prefs["desktopNotifications"])
        weekly = st.toggle("A weekly summary of my numbers", prefs["weeklyDigest"])
        if st.form_submit_button("Save preferences"):
            saved("Preferences saved.", "PUT", "/me/preferences", json={
                "theme": theme, "language": language, "timezone": zone, "emailNotifications": email_on,
                "emailFrequency": frequency, "desktopNotifications": desktop, "weeklyDigest": weekly})

with security_tab:
    status = call("GET", "/me/two-factor")
    st.markdown("**Two-factor sign-in**")
    if status["enabled"]:
        st.success(f"On · {status['recoveryCodesLeft']} recovery codes left", icon=":material/verified_user:")
        codes = st.session_state.pop("my_recovery_codes", None)
        if codes:
            st.warning("Keep these recovery codes somewhere safe: each works once, and they are shown only now.")
            st.code("\n".join(codes), language=None)
        if not status["requiredByOrganization"]:
            with st.form("disable_two_factor"):
                code = st.text_input("A current code (or a recovery code) to turn it off")
                if st.form_submit_button("Turn off"):
                    saved("Two-factor sign-in is off.", "POST", "/me/two-factor/disable", json={"code": code})
    else:
        if status["requiredByOrganization"]:
            st.warning("Your organization requires it.")
        enrolment = st.session_state.get("my_enrolment")
        if enrolment is None:
            if st.button("Set up two-factor sign-in", icon=":material/phonelink_lock:"):
                st.session_state["my_enrolment"] = workspace.act("Scan the code, then enter what the app shows.",
                                                                 "POST", "/me/two-factor/enroll")
                st.rerun()
        else:
            st.caption("Scan this with an authenticator app (1Password, Google Authenticator, Authy…), or type the "
                       "key into it.")
            st.image(enrolment["qrCodeSvg"], width=200)
            st.code(enrolment["secret"], language=None)
            with st.form("confirm_two_factor"):
                code = st.text_input("The 6-digit code the app shows")
                if st.form_submit_button("Turn on"):
                    try:
                        confirmed = call("POST", "/me/two-factor/confirm", json={"code": code})
                    except session.ApiError as exc:
                        st.error(exc.message)
                    else:
                        st.session_state.pop("my_enrolment", None)
                        st.session_state["my_recovery_codes"] = confirmed["recoveryCodes"]
                        account.refresh()
                        workspace.flash("success", "Two-factor sign-in is on.")
                        st.rerun()
    st.markdown("**Password**")
    with st.form("password", clear_on_submit=True):
        current = st.text_input("Current password", type="password")
        new = st.text_input("New password", type="password", help="At least 8 characters")
        if st.form_submit_button("Change password"):
            saved("Password changed.", "POST", "/me/password", json={"currentPassword": current, "newPassword": new})

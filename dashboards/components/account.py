"""The signed-in user's own settings as every page uses them: the theme (light or dark) and the time zone dates
are shown in, read once per browser session from `/me/...`; and what the account still needs, said on every
page — a second factor the organization requires, an address to confirm."""

from __future__ import annotations

import streamlit as st

from dashboards.components import formatting, session

STATE = "revorc_account"
THEME_KEY = "revorc_theme"
# Streamlit's own theme is chosen per install; a user's dark theme is this stylesheet over it.
DARK_CSS = """<style>
.stApp, [data-testid="stHeader"] { background-color: #0e1117; color: #fafafa; }
[data-testid="stSidebar"] { background-color: #262730; }
.stApp p, .stApp span, .stApp label, .stApp li, .stApp h1, .stApp h2, .stApp h3, .stApp h4,
[data-testid="stMetricValue"], [data-testid="stMetricLabel"], [data-testid="stCaptionContainer"] { color: #fafafa; }
[data-testid="stExpander"], [data-testid="stForm"], [data-testid="stVerticalBlockBorderWrapper"] {
    border-color: #3d4150; }
</style>"""


def refresh() -> None:
    """Read the account again on the next run (after the user changed it)."""
    st.session_state.pop(STATE, None)


def _load(user: session.UserSession) -> dict:
    if STATE not in st.session_state:
        found: dict = {}
        for key, path in (("preferences", "/me/preferences"), ("profile", "/me/profile"),
                          ("two_factor", "/me/two-factor")):
            try:
                found[key] = session.api_call("GET", path, token=user.token)
            except session.ApiError:
                found[key] = {}
        st.session_state[STATE] = found
    return st.session_state[STATE]


def apply(user: session.UserSession) -> None:
    account = _load(user)
    prefs = account.get("preferences") or {}
    st.session_state[formatting.TIMEZONE_KEY] = prefs.get("timezone") or "UTC"
    st.session_state[THEME_KEY] = prefs.get("theme") or "light"
    if st.session_state[THEME_KEY] == "dark":
        st.html(DARK_CSS)
    two_factor = account.get("two_factor") or {}
    if two_factor.get("requiredByOrganization") and not two_factor.get("enabled"):
        st.warning("Your organization requires two-factor sign-in: turn it on under **My settings** to use the "
                   "other pages.", icon=":material/lock:")
    elif (account.get("profile") or {}).get("emailVerified") is False:
        st.info("Confirm your e-mail address with the link we sent (My settings can send it again).",
                icon=":material/mark_email_unread:")

"""AIRevenueOrc analyst dashboards: sign-in and the shared sidebar, then one of the pages in `app_pages/`.

Served by `dashboards/server.py` (`streamlit run dashboards/server.py`, or `revorc up` on :8501), which adds the
route that keeps a sign-in across reloads; run on its own, the app works but signs in per browser tab.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboards.components import account, jump, notifications, session

HERE = Path(__file__).resolve().parent
# (file, title, icon, section): the navigation groups the rep's workspace, the analyst pages and the settings
PAGES = [
    ("today", "Today", ":material/today:", "Work"),
    ("prospects", "Prospects", ":material/groups:", "Work"),
    ("email", "E-mail", ":material/mail:", "Work"),
    ("accounts", "Accounts", ":material/domain:", "Work"),
    ("deals", "Deals", ":material/handshake:", "Work"),
    ("cadences", "Cadences", ":material/route:", "Work"),
    ("search", "Search", ":material/manage_search:", "Work"),
    ("ai_writer", "AI writer", ":material/edit_note:", "Work"),
    ("bdr", "BDR agent", ":material/smart_toy:", "Work"),
    ("notifications", "Notifications", ":material/notifications:", "Work"),
    ("pipeline", "Pipeline", ":material/view_kanban:", "Analyze"),
    ("forecast", "Forecast", ":material/trending_up:", "Analyze"),
    ("performance", "Performance", ":material/leaderboard:", "Analyze"),
    ("outreach", "Outreach", ":material/campaign:", "Analyze"),
    ("intent", "Intent", ":material/local_fire_department:", "Analyze"),
    ("lead_scoring", "Lead scoring", ":material/target:", "Analyze"),
    ("ai_playground", "AI playground", ":material/science:", "Analyze"),
    ("data_health", "Data health", ":material/monitor_heart:", "Analyze"),
    ("mailboxes", "Mailboxes", ":material/forward_to_inbox:", "Settings"),
    ("api_keys", "API keys", ":material/key:", "Settings"),
    ("integrations", "Integrations", ":material/extension:", "Settings"),
    ("flows", "Flows", ":material/account_tree:", "Settings"),
    ("billing", "Plan and billing", ":material/credit_card:", "Settings"),
    ("sso", "Single sign-on", ":material/badge:", "Settings"),
    ("team", "Team", ":material/group:", "Settings"),
    ("audit_log", "Audit log", ":material/history:", "Settings"),
    ("my_settings", "My settings", ":material/manage_accounts:", "Settings"),
]

# Pages whose every action is an admin's: not listed for others (the API refuses them anyway).
ADMIN_ONLY = {"sso", "team", "audit_log"}

st.set_page_config(page_title="AIRevenueOrc", page_icon=":material/insights:", layout="wide")

user = session.current_user()

pages: dict[str, list] = {}
for i, (name, title, icon, section) in enumerate(PAGES):
    if user is not None and user.role != "admin" and name in ADMIN_ONLY:
        continue
    pages.setdefault(section, []).append(
        st.Page(HERE / "app_pages" / f"{name}.py", title=title, icon=icon, url_path=name, default=i == 0))
# Navigation is declared (hidden) for the sign-in form too: Streamlit then keeps the page the URL names, so a
# deep link lands on its page after sign-in, and no page links linger next to the form after a sign-out.
page = st.navigation(pages, position="sidebar" if user else "hidden", expanded=True)
if user is None:
    session.sign_in_form()

account.apply(user)  # the user's theme and time zone; what their account still needs (a code, an address)

with st.sidebar:
    st.markdown(f"**{user.full_name or user.email}**  \n{user.email} · {user.role}")
    notifications.bell(user)  # the unread count, linking to the notification centre
    jump.box(user)  # universal search: jump to any record
    if st.button("Refresh data", icon=":material/refresh:", help="Re-read the marts now instead of the cache"):
        st.cache_data.clear()
    if st.button("Sign out", icon=":material/logout:"):
        session.logout()
        st.rerun()

page.run()

"""AIRevenueOrc analyst dashboards: sign-in and the shared sidebar, then one of the pages in `app_pages/`.

Served by `dashboards/server.py` (`streamlit run dashboards/server.py`, or `revorc up` on :8501), which adds the
route that keeps a sign-in across reloads; run on its own, the app works but signs in per browser tab.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboards.components import notifications, session

HERE = Path(__file__).resolve().parent
PAGES = [
    ("pipeline", "Pipeline", ":material/view_kanban:"),
    ("forecast", "Forecast", ":material/trending_up:"),
    ("performance", "Performance", ":material/leaderboard:"),
    ("outreach", "Outreach", ":material/campaign:"),
    ("intent", "Intent", ":material/local_fire_department:"),
    ("lead_scoring", "Lead scoring", ":material/target:"),
    ("search", "Search", ":material/manage_search:"),
    ("ai_writer", "AI writer", ":material/edit_note:"),
    ("ai_playground", "AI playground", ":material/science:"),
    ("data_health", "Data health", ":material/monitor_heart:"),
    ("notifications", "Notifications", ":material/notifications:"),
    ("billing", "Plan and billing", ":material/credit_card:"),
]

st.set_page_config(page_title="AIRevenueOrc", page_icon=":material/insights:", layout="wide")

user = session.current_user()

pages = [st.Page(HERE / "app_pages" / f"{name}.py", title=title, icon=icon, url_path=name, default=i == 0)
         for i, (name, title, icon) in enumerate(PAGES)]
# Navigation is declared (hidden) for the sign-in form too: Streamlit then keeps the page the URL names, so a
# deep link lands on its page after sign-in, and no page links linger next to the form after a sign-out.
page = st.navigation(pages, position="sidebar" if user else "hidden")
if user is None:
    session.sign_in_form()

with st.sidebar:
    st.markdown(f"**{user.full_name or user.email}**  \n{user.email} · {user.role}")
    notifications.bell(user)  # the unread count, linking to the notification centre
    if st.button("Refresh data", icon=":material/refresh:", help="Re-read the marts now instead of the cache"):
        st.cache_data.clear()
    if st.button("Sign out", icon=":material/logout:"):
        session.logout()
        st.rerun()

page.run()

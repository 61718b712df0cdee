"""AIRevenueOrc analyst dashboards: sign-in and the shared sidebar, then one of the pages in `app_pages/`.

Run with `streamlit run dashboards/streamlit_app.py` (or `revorc up`, which serves it on :8501).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboards.components import session

HERE = Path(__file__).resolve().parent
PAGES = [
    ("pipeline", "Pipeline", ":material/view_kanban:"),
    ("forecast", "Forecast", ":material/trending_up:"),
    ("performance", "Performance", ":material/leaderboard:"),
    ("outreach", "Outreach", ":material/campaign:"),
    ("intent", "Intent", ":material/local_fire_department:"),
    ("lead_scoring", "Lead scoring", ":material/target:"),
    ("data_health", "Data health", ":material/monitor_heart:"),
]

st.set_page_config(page_title="AIRevenueOrc", page_icon=":material/insights:", layout="wide")

user = session.require_login()

pages = [st.Page(HERE / "app_pages" / f"{name}.py", title=title, icon=icon, url_path=name, default=i == 0)
         for i, (name, title, icon) in enumerate(PAGES)]
page = st.navigation(pages)

with st.sidebar:
    st.markdown(f"**{user.full_name or user.email}**  \n{user.email} · {user.role}")
    if st.button("Refresh data", icon=":material/refresh:", help="Re-read the marts now instead of the cache"):
        st.cache_data.clear()
    if st.button("Sign out", icon=":material/logout:"):
        session.logout()
        st.rerun()

page.run()

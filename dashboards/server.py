"""The dashboards as an ASGI app: `streamlit_app.py` plus the route that keeps a sign-in across reloads.

Run with `streamlit run dashboards/server.py` (what `revorc up` does). The route exists because a Streamlit
script cannot set an HttpOnly cookie: it turns a one-time ticket from a signed-in session into the cookie
(POST) and deletes it (DELETE). See `components/session.py` and docs/dashboards.md.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboards.components.session_route import route

app = st.App(Path(__file__).resolve().parent / "streamlit_app.py", routes=[route])

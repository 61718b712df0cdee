"""API keys: create a key with the scopes it needs (the secret is shown once), rotate, revoke, and each key's use
by day — through the API as the signed-in user (admins see the organization's keys, others their own)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.components import session, workspace
from dashboards.components.workspace import call, label
from serving.core.permissions import Scope, role_scopes

SECRET = "api_keys_secret"
user = session.current()
st.title("API keys")
workspace.show_flash()
if st.session_state.get(SECRET):
    name, secret = st.session_state.pop(SECRET)
    st.success(f"The secret of “{name}” — copy it now, it is not shown again:")
    st.code(secret, language=None)

try:
    keys = call("GET", "/api-keys", params={"limit": 100})["data"]
except session.ApiError as exc:
    st.error(f"Cannot load keys: {exc.message}")
    st.stop()

if not keys:
    st.info("No API keys yet. Create one for an integration or a script below.", icon=":material/key:")
for key in keys:
    with st.container(border=True):
        head, state = st.columns([4, 1])
        head.markdown(f"**{key['name']}** · `{key['prefix']}…` · {label(key['environment'])}")
        head.caption("Scopes: " + ", ".join(key["scopes"]))
        state.markdown(label(key["status"]))
        if key["status"] == "active":
            a, b, c = st.columns(3)
            if a.button("Rotate", key=f"rotate_{key['id']}", icon=":material/autorenew:"):
                rotated = workspace.act("Rotated: the old secret no longer works.", "PUT",
                                        f"/api-keys/{key['id']}/rotate")
                if rotated:
                    st.session_state[SECRET] = (key["name"], rotated["key"])
                st.rerun()
            if b.button("Revoke", key=f"revoke_{key['id']}", icon=":material/block:"):
                workspace.act(f"“{key['name']}” revoked.", "DELETE", f"/api-keys/{key['id']}")
                st.rerun()
            if c.toggle("Usage", key=f"usage_{key['id']}"):
                try:
                    usage = call("GET", f"/api-keys/{key['id']}/usage")
                except session.ApiError as exc:
                    st.caption(exc.message)
                else:
                    st.caption(f"{usage['requestCount']:,} requests in all; last used "
                               f"{(usage['lastUsedAt'] or 'never')[:16].replace('T', ' ')}")
                    if usage["daily"]:
                        st.bar_chart(pd.DataFrame(usage["daily"]).set_index("date")["requestCount"], height=160)

with st.form("new_key", clear_on_submit=True):
    st.markdown("**New key**")
    name = st.text_input("Name", placeholder="e.g. Segment source, nightly export")
    allowed = sorted(s.value for s in Scope if s.value in role_scopes(user.role))
    scopes = st.multiselect("Scopes", allowed, default=[s for s in allowed if s.endswith(":read")][:1])
    environment = st.radio("Environment", ["live", "test"], horizontal=True)
    if st.form_submit_button("Create key"):
        created = workspace.act(f"“{name}” created.", "POST", "/api-keys",
                                json={"name": name, "scopes": scopes, "environment": environment})
        if created:
            st.session_state[SECRET] = (name, created["key"])
        st.rerun()

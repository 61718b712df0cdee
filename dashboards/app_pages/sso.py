"""Single sign-on (admins): the organization's identity providers — SAML 2.0 or OpenID Connect — with what to
register at each, the link members sign in with, turning one on or off, and enforcing SSO with the admins who may
still use a password. Through the API (`/sso/...`) as the signed-in admin; docs/sso.md explains each setting."""

from __future__ import annotations

import streamlit as st

from dashboards.components import session, workspace
from dashboards.components.workspace import call

user = session.current()
st.title("Single sign-on")
workspace.show_flash()
if user.role != "admin":  # not listed for others; a link still lands here
    st.info("Only admins manage single sign-on.", icon=":material/lock:")
    st.stop()
st.caption("Let your team sign in with your identity provider (Okta, Entra ID, Google Workspace, Keycloak, …). "
           "Add the provider, register this app at it with the values shown, then share the sign-in link.")


def replace_body(provider: dict, **changes) -> dict:
    """`PUT /sso/providers/{id}` replaces the provider; the client secret is kept when not sent again."""
    keep = ("name", "protocol", "enabled", "config", "attributeMapping", "roleMapping", "defaultRole",
            "jitProvisioning", "allowedDomains")
    return {**{k: provider[k] for k in keep}, **changes}


def provider_card(provider: dict) -> None:
    sp = provider["serviceProvider"]
    with st.container(border=True):
        head, state = st.columns([4, 1])
        head.markdown(f"**{provider['name']}** · {'SAML 2.0' if provider['protocol'] == 'saml' else 'OpenID Connect'}")
        state.markdown(":green[On]" if provider["enabled"] else ":orange[Off]")
        st.markdown("**Sign-in link to share**")
        st.code(sp["dashboardsLoginUrl"], language=None)
        with st.expander("What to register at the identity provider"):
            if provider["protocol"] == "saml":
                st.markdown("Entity ID (audience)")
                st.code(sp["entityId"], language=None)
                st.markdown("Assertion consumer service (ACS) URL, HTTP-POST")
                st.code(sp["acsUrl"], language=None)
                st.markdown("Or give it the metadata")
                st.code(sp["metadataUrl"], language=None)
            else:
                st.markdown("Redirect URI")
                st.code(sp["redirectUri"], language=None)
            domains = ", ".join(provider["allowedDomains"]) or "any"
            st.caption(f"New members are created at first sign-in: {'yes' if provider['jitProvisioning'] else 'no'} "
                       f"(as {provider['defaultRole']}); allowed e-mail domains: {domains}.")
        on, remove = st.columns([1, 1])
        if on.button("Turn off" if provider["enabled"] else "Turn on", key=f"toggle_{provider['id']}"):
            workspace.act(f"{provider['name']} turned {'off' if provider['enabled'] else 'on'}.", "PUT",
                          f"/sso/providers/{provider['id']}", json=replace_body(provider,
                                                                               enabled=not provider["enabled"]))
            st.rerun()
        with remove.popover("Remove", icon=":material/delete:"):
            st.warning(f"Members who sign in through {provider['name']} will need a password or another provider.")
            if st.button("Remove it", key=f"remove_{provider['id']}", type="primary"):
                workspace.act(f"{provider['name']} removed.", "DELETE", f"/sso/providers/{provider['id']}")
                st.rerun()


def add_provider() -> None:
    st.markdown("**Add a provider**")
    saml_tab, oidc_tab = st.tabs(["SAML 2.0", "OpenID Connect"])
    with saml_tab, st.form("add_saml", clear_on_submit=False):
        name = st.text_input("Name", placeholder="Okta", key="saml_name")
        entity = st.text_input("IdP entity ID (issuer)", key="saml_entity")
        url = st.text_input("IdP single sign-on URL", key="saml_url")
        cert = st.text_area("IdP signing certificate (PEM)", key="saml_cert", height=120)
        domains = st.text_input("Allowed e-mail domains (comma separated, empty for any)", key="saml_domains")
        if st.form_submit_button("Add SAML provider"):
            workspace.act(f"{name} added.", "POST", "/sso/providers", json={
                "name": name, "protocol": "saml",
                "config": {"idpEntityId": entity, "idpSsoUrl": url, "idpX509Cert": cert},
                "allowedDomains": [d.strip() for d in domains.split(",") if d.strip()]})
            st.rerun()
    with oidc_tab, st.form("add_oidc", clear_on_submit=False):
        name = st.text_input("Name", placeholder="Google Workspace", key="oidc_name")
        issuer = st.text_input("Issuer URL", placeholder="https://accounts.google.com", key="oidc_issuer",
                               help="Its endpoints are read from the issuer's discovery document")
        client_id = st.text_input("Client ID", key="oidc_client")
        secret = st.text_input("Client secret", type="password", key="oidc_secret")
        domains = st.text_input("Allowed e-mail domains (comma separated, empty for any)", key="oidc_domains")
        if st.form_submit_button("Add OpenID Connect provider"):
            workspace.act(f"{name} added.", "POST", "/sso/providers", json={
                "name": name, "protocol": "oidc", "config": {"issuer": issuer, "clientId": client_id},
                "clientSecret": secret or None,
                "allowedDomains": [d.strip() for d in domains.split(",") if d.strip()]})
            st.rerun()


def enforcement(providers: list[dict]) -> None:
    try:
        current = call("GET", "/sso/settings")
    except session.ApiError as exc:
        st.error(f"Cannot read the SSO settings: {exc.message}")
        return
    with st.form("enforce"):
        st.markdown("**Require single sign-on**")
        enforced = st.toggle("Refuse password sign-in for this organization's members", current["enforced"],
                             disabled=not any(p["enabled"] for p in providers),
                             help="Turn a provider on first")
        keep_me = st.checkbox("Keep me able to sign in with a password (break-glass)",
                              user.user_id in current["breakGlassUserIds"] or not current["enforced"])
        if st.form_submit_button("Save"):
            others = [i for i in current["breakGlassUserIds"] if i != user.user_id]
            workspace.act("Single sign-on " + ("required." if enforced else "optional."), "PUT", "/sso/settings",
                          json={"enforced": enforced, "breakGlassUserIds": others + ([user.user_id] if keep_me
                                                                                     else [])})
            st.rerun()


try:
    providers = call("GET", "/sso/providers")["data"]
except session.ApiError as exc:
    st.error(f"Cannot load the identity providers: {exc.message}")
    st.stop()
if not providers:
    st.info("No identity provider yet: add one below.", icon=":material/badge:")
for item in providers:
    provider_card(item)
enforcement(providers)
add_provider()

"""The account flows of the sign-in page, through the API: sign up, ask for a password reset, and the three links
the API mails — `?invitation=` (accept and join), `?verify=` (confirm the address), `?reset=` (choose a new
password). A link's token leaves the URL once used."""

from __future__ import annotations

import streamlit as st

from dashboards.components import session
from dashboards.components.session import ApiError


def _field_error(exc: ApiError) -> str:
    field = (exc.details or {}).get("field") if isinstance(exc.details, dict) else None
    return f"{exc.message}" + (f" ({field})" if field else "")


def from_link() -> None:
    """Handle a mailed link, if the URL carries one; a form that needs input stops the page after itself."""
    if token := st.query_params.get("verify"):
        del st.query_params["verify"]
        try:
            done = session.api_call("POST", "/auth/verify-email", json={"token": token})
        except ApiError as exc:
            st.error(f"This confirmation link does not work: {exc.message}")
        else:
            st.success(done["message"] + " Sign in to continue.")
    elif token := st.query_params.get("reset"):
        _reset(token)
    elif token := st.query_params.get("invitation"):
        _accept(token)


def _reset(token: str) -> None:
    st.subheader("Choose a new password")
    with st.form("reset_password"):
        password = st.text_input("New password", type="password", help="At least 8 characters")
        again = st.text_input("Once more", type="password")
        submitted = st.form_submit_button("Set the password")
    if submitted:
        if password != again:
            st.error("The two passwords differ.")
        else:
            try:
                done = session.api_call("POST", "/auth/password/reset", json={"token": token, "password": password})
            except ApiError as exc:
                st.error(_field_error(exc))
            else:
                del st.query_params["reset"]
                st.success(done["message"])
                return
    st.stop()


def _accept(token: str) -> None:
    try:
        invitation = session.api_call("GET", f"/team/invitations/{token}")
    except ApiError as exc:
        del st.query_params["invitation"]
        st.error(f"This invitation cannot be used: {exc.message}")
        return
    st.subheader(f"Join {invitation['organizationName']}")
    st.caption(f"Invited as {invitation['role']} · {invitation['email']}")
    with st.form("accept_invitation"):
        name = st.text_input("Your name")
        password = st.text_input("Choose a password", type="password", help="At least 8 characters") \
            if invitation["needsPassword"] else None
        submitted = st.form_submit_button("Join")
    if submitted:
        try:
            body = session.api_call("POST", f"/team/invitations/{token}/accept",
                                    json={"fullName": name or None, "password": password or None})
            signed_in = session.signed_in_as(body)
        except ApiError as exc:
            st.error(_field_error(exc))
        else:
            del st.query_params["invitation"]
            session.start(signed_in)
    st.stop()


def signup() -> None:
    with st.form("signup"):
        organization = st.text_input("Company", key="signup_company")
        name = st.text_input("Your name", key="signup_name")
        email = st.text_input("Work e-mail", key="signup_email")
        password = st.text_input("Choose a password", type="password", help="At least 8 characters",
                                 key="signup_password")
        submitted = st.form_submit_button("Create the account")
    if submitted:
        try:
            body = session.api_call("POST", "/auth/signup", json={
                "organizationName": organization, "fullName": name or None, "email": email, "password": password})
            signed_in = session.signed_in_as(body)
        except ApiError as exc:
            st.error(_field_error(exc))
        else:
            session.start(signed_in)


def forgot_password() -> None:
    with st.form("forgot_password"):
        email = st.text_input("Your e-mail", key="forgot_email")
        submitted = st.form_submit_button("Send me a link")
    if submitted:
        try:
            done = session.api_call("POST", "/auth/password/forgot", json={"email": email})
        except ApiError as exc:
            st.error(_field_error(exc))
        else:
            st.success(done["message"])

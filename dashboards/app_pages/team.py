"""Team (admins): the members with their role, team and last activity — change a role, move to a team, remove —;
invitations (invite by e-mail, revoke, resend with a new link); the teams; and the organization's sign-in rule
(require two-factor). Through the API (`/team/...`) as the signed-in admin; the API keeps the last admin."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.components import formatting, session, workspace
from dashboards.components.workspace import call, label

user = session.current()
st.title("Team")
workspace.show_flash()
if user.role != "admin":  # not listed for others; a link still lands here
    st.info("Only admins manage the team.", icon=":material/lock:")
    st.stop()
ROLES = ["admin", "user", "viewer"]

teams = call("GET", "/team/teams", params={"limit": 100})["data"]
team_names = {t["id"]: t["name"] for t in teams}
members_tab, invitations_tab, teams_tab, security_tab = st.tabs(["Members", "Invitations", "Teams", "Security"])

with members_tab:
    q = st.text_input("Find a member", key="team_q", placeholder="name or e-mail")
    show_removed = st.toggle("Removed members", key="team_removed")
    members = call("GET", "/team/members", params={"limit": 100, "active": "false" if show_removed else "true",
                                                   **({"q": q} if q else {})})["data"]
    if not members:
        st.caption("Nobody matches.")
    else:
        st.dataframe(pd.DataFrame([{
            "Name": m["fullName"] or "—", "E-mail": m["email"], "Role": label(m["role"]),
            "Team": m["teamName"] or "—", "Two-factor": "on" if m["twoFactorEnabled"] else "off",
            "Last active": formatting.when(m["lastActivityAt"] or m["lastLoginAt"], empty="never"),
        } for m in members]), hide_index=True, width="stretch")
    if members and not show_removed:
        names = {m["id"]: f"{m['fullName'] or m['email']} ({label(m['role'])})" for m in members}
        st.markdown("**Change a member**")
        who_col, role_col, team_col = st.columns([3, 2, 2])
        who = who_col.selectbox("Member", list(names), format_func=names.get, key="team_member")
        chosen = next(m for m in members if m["id"] == who)
        role = role_col.selectbox("Role", ROLES, index=ROLES.index(chosen["role"]), format_func=label,
                                  key=f"team_role_{who}")
        team_ids = [None, *team_names]
        team = team_col.selectbox("Team", team_ids, index=team_ids.index(chosen["teamId"])
                                  if chosen["teamId"] in team_ids else 0,
                                  format_func=lambda t: "No team" if t is None else team_names[t], key=f"team_of_{who}")
        save_col, remove_col = st.columns([1, 1])
        if save_col.button("Save", key="team_save"):
            if role != chosen["role"]:
                workspace.act(f"{names[who]} is now {label(role)}.", "PUT", f"/team/members/{who}/role",
                              json={"role": role})
            if team != chosen["teamId"]:
                workspace.act("Team changed.", "PUT", f"/team/members/{who}/team", json={"teamId": team})
            st.rerun()
        with remove_col.popover("Remove from the organization", icon=":material/person_remove:"):
            st.warning("They are signed out everywhere at once; their records stay.")
            if st.button("Remove", key="team_remove", type="primary"):
                workspace.act(f"{chosen['email']} removed.", "DELETE", f"/team/members/{who}")
                st.rerun()

with invitations_tab:
    with st.form("invite", clear_on_submit=True):
        st.markdown("**Invite someone**")
        a, b, c = st.columns([3, 1, 2])
        email = a.text_input("E-mail")
        role = b.selectbox("Role", ROLES, index=1, format_func=label)
        team = c.selectbox("Team", [None, *team_names], format_func=lambda t: "No team" if t is None
                           else team_names[t])
        if st.form_submit_button("Send the invitation", icon=":material/send:"):
            sent = workspace.act(f"Invitation sent to {email}.", "POST", "/team/invite",
                                 json={"email": email, "role": role, "teamId": team})
            if sent:
                st.session_state["team_last_link"] = sent["acceptUrl"]
            st.rerun()
    if link := st.session_state.pop("team_last_link", None):
        st.caption("The link (also mailed), if you would rather pass it on yourself:")
        st.code(link, language=None)
    invitations = call("GET", "/team/invitations", params={"limit": 100})["data"]
    if not invitations:
        st.caption("No invitations yet.")
    for inv in invitations:
        with st.container(border=True):
            left, right = st.columns([4, 2])
            left.markdown(f"**{inv['email']}** · {label(inv['role'])} · {label(inv['status'])}  \n"
                          f"sent {formatting.when(inv['createdAt'])} · expires {formatting.when(inv['expiresAt'])}")
            if inv["status"] in ("pending", "expired") and right.button("Resend", key=f"resend_{inv['id']}"):
                workspace.act(f"Sent again to {inv['email']}.", "POST", f"/team/invitations/{inv['id']}/resend")
                st.rerun()
            if inv["status"] == "pending" and right.button("Revoke", key=f"revoke_{inv['id']}"):
                workspace.act("Invitation revoked.", "POST", f"/team/invitations/{inv['id']}/revoke")
                st.rerun()

with teams_tab:
    for t in teams:
        with st.container(border=True):
            st.markdown(f"**{t['name']}** · {t['members']} members" + (f"  \n{t['description']}"
                                                                         if t["description"] else ""))
            with st.form(f"rename_{t['id']}"):
                new_name = st.text_input("Name", t["name"], key=f"team_name_{t['id']}")
                rename, delete = st.columns(2)
                if rename.form_submit_button("Rename"):
                    workspace.act("Team renamed.", "PUT", f"/team/teams/{t['id']}", json={"name": new_name})
                    st.rerun()
                if delete.form_submit_button("Delete (members stay, in no team)"):
                    workspace.act(f"{t['name']} deleted.", "DELETE", f"/team/teams/{t['id']}")
                    st.rerun()
    with st.form("new_team", clear_on_submit=True):
        name = st.text_input("New team")
        if st.form_submit_button("Create team"):
            workspace.act(f"Team {name} created.", "POST", "/team/teams", json={"name": name})
            st.rerun()

with security_tab:
    rules = call("GET", "/team/settings")
    with st.form("security"):
        required = st.toggle("Require two-factor sign-in of every member", rules["requireTwoFactor"],
                             help="Members without it can only set it up until they do; turn it on for yourself "
                                  "first (My settings)")
        if st.form_submit_button("Save"):
            workspace.act("Sign-in rules saved.", "PUT", "/team/settings", json={"requireTwoFactor": required})
            st.rerun()

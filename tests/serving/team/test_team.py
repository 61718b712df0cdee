"""Running a team: the member directory, invitations by e-mail through their whole life (mailed, accepted once,
expired, revoked, resent), roles with the last admin protected, removal that stops a member's tokens at once,
teams, the audit log for admins — and none of it across organizations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from serving.core.clock import utcnow
from serving.core.outbox import DomainEvent
from serving.team.models import TeamInvitation
from tests.factories import PASSWORD, unique_email
from tests.serving.team.mail import link_token, mails_to

API = "/api/v1"


def invite(client, admin, email, role="user", **extra):
    return client.post(f"{API}/team/invite", json={"email": email, "role": role, **extra}, headers=admin.headers)


def test_the_directory_lists_members_with_their_last_activity(client, tenant):
    client.post(f"{API}/prospects", json={"email": unique_email("p")}, headers=tenant.user.headers)
    response = client.get(f"{API}/team/members", headers=tenant.viewer.headers)  # every member may read it
    assert response.status_code == 200
    members = {m["email"]: m for m in response.json()["data"]}
    assert set(members) == {tenant.admin.email, tenant.user.email, tenant.viewer.email}
    assert members[tenant.user.email]["lastActivityAt"] is not None  # the prospect they created is audited
    assert members[tenant.admin.email]["role"] == "admin" and members[tenant.admin.email]["teamName"] == "Sales"
    only_admins = client.get(f"{API}/team/members", params={"role": "admin"}, headers=tenant.viewer.headers)
    assert [m["email"] for m in only_admins.json()["data"]] == [tenant.admin.email]


def test_an_invitation_is_mailed_accepted_once_and_signs_the_new_member_in(client, tenant, settings, owner_session):
    email = unique_email("newbie")
    created = invite(client, tenant.admin, email, role="viewer")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "pending" and body["role"] == "viewer"
    [mail] = mails_to(settings, tenant.organization_id, email)
    token = link_token(mail, "invitation")
    assert body["acceptUrl"].endswith(token)
    stored = owner_session.get(TeamInvitation, body["id"])
    assert stored.token_hash != token and len(stored.token_hash) == 64  # only the hash is kept

    preview = client.get(f"{API}/team/invitations/{token}")
    assert preview.json()["needsPassword"] is True and preview.json()["role"] == "viewer"
    no_password = client.post(f"{API}/team/invitations/{token}/accept", json={})
    assert no_password.status_code == 422 and no_password.json()["error"]["details"]["field"] == "password"
    accepted = client.post(f"{API}/team/invitations/{token}/accept",
                           json={"password": "a-long-password", "fullName": "New Bie"})
    assert accepted.status_code == 200, accepted.text
    me = client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {accepted.json()['accessToken']}"})
    assert me.json()["role"] == "viewer" and me.json()["organizationId"] == str(tenant.organization_id)
    again = client.post(f"{API}/team/invitations/{token}/accept", json={"password": "a-long-password"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "INVITATION_ACCEPTED"
    events = {e.type for e in owner_session.query(DomainEvent).filter(
        DomainEvent.organization_id == tenant.organization_id, DomainEvent.type.like("team.%"))}
    assert events == {"team.member_invited", "team.member_joined"}
    login = client.post(f"{API}/auth/login", json={"email": email, "password": "a-long-password"})
    assert login.status_code == 200


def test_an_expired_invitation_is_refused_and_can_be_resent(client, tenant, settings, owner_session):
    email = unique_email("late")
    created = invite(client, tenant.admin, email).json()
    token = link_token(mails_to(settings, tenant.organization_id, email)[0], "invitation")
    with owner_session.begin():
        owner_session.execute(update(TeamInvitation).where(TeamInvitation.id == created["id"])
                              .values(expires_at=utcnow() - timedelta(minutes=1)))
    expired = client.post(f"{API}/team/invitations/{token}/accept", json={"password": "a-long-password"})
    assert expired.status_code == 409 and expired.json()["error"]["code"] == "INVITATION_EXPIRED"
    listed = client.get(f"{API}/team/invitations", params={"status": "pending"}, headers=tenant.admin.headers)
    assert [i["status"] for i in listed.json()["data"]] == ["expired"]  # pending, but past its time

    resent = client.post(f"{API}/team/invitations/{created['id']}/resend", headers=tenant.admin.headers)
    assert resent.status_code == 200 and resent.json()["status"] == "pending"
    new_token = link_token(mails_to(settings, tenant.organization_id, email)[-1], "invitation")
    assert new_token != token
    assert client.post(f"{API}/team/invitations/{token}/accept",
                       json={"password": "a-long-password"}).status_code == 404  # the old link is dead
    assert client.post(f"{API}/team/invitations/{new_token}/accept",
                       json={"password": "a-long-password"}).status_code == 200


def test_a_revoked_invitation_cannot_be_accepted(client, tenant, settings):
    email = unique_email("revoked")
    created = invite(client, tenant.admin, email).json()
    token = link_token(mails_to(settings, tenant.organization_id, email)[0], "invitation")
    revoked = client.post(f"{API}/team/invitations/{created['id']}/revoke", headers=tenant.admin.headers)
    assert revoked.json()["status"] == "revoked"
    refused = client.post(f"{API}/team/invitations/{token}/accept", json={"password": "a-long-password"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "INVITATION_REVOKED"


def test_inviting_a_member_or_another_organizations_user_is_refused(client, tenant, other_tenant):
    assert invite(client, tenant.admin, tenant.user.email).json()["error"]["code"] == "ALREADY_MEMBER"
    assert invite(client, tenant.admin, other_tenant.user.email).json()["error"]["code"] == "EMAIL_IN_USE"
    assert invite(client, tenant.user, unique_email("x")).status_code == 403  # admins only


def test_the_last_admin_can_be_neither_demoted_nor_removed(client, tenant):
    demote = client.put(f"{API}/team/members/{tenant.admin.id}/role", json={"role": "user"},
                        headers=tenant.admin.headers)
    assert demote.status_code == 409 and demote.json()["error"]["code"] == "LAST_ADMIN"
    remove = client.delete(f"{API}/team/members/{tenant.admin.id}", headers=tenant.admin.headers)
    assert remove.status_code == 409 and remove.json()["error"]["code"] == "LAST_ADMIN"
    promoted = client.put(f"{API}/team/members/{tenant.user.id}/role", json={"role": "admin"},
                          headers=tenant.admin.headers)
    assert promoted.json()["role"] == "admin"
    # with a second admin, the first may step down
    assert client.put(f"{API}/team/members/{tenant.admin.id}/role", json={"role": "user"},
                      headers=tenant.admin.headers).json()["role"] == "user"
    assert client.delete(f"{API}/team/members/{tenant.user.id}", headers=tenant.user.headers).json()["error"][
        "code"] == "LAST_ADMIN"


def test_a_removed_members_token_and_api_key_stop_at_once(client, tenant):
    key = client.post(f"{API}/api-keys", json={"name": "k", "scopes": ["prospects:read"]},
                      headers=tenant.user.headers).json()["key"]
    assert client.get(f"{API}/prospects", headers=tenant.user.headers).status_code == 200
    assert client.delete(f"{API}/team/members/{tenant.user.id}", headers=tenant.admin.headers).status_code == 204
    assert client.get(f"{API}/prospects", headers=tenant.user.headers).status_code == 401
    assert client.get(f"{API}/prospects", headers={"X-API-Key": key}).status_code == 401
    assert client.post(f"{API}/auth/login", json={"email": tenant.user.email, "password": PASSWORD}).status_code == 401
    listed = client.get(f"{API}/team/members", params={"active": "false"}, headers=tenant.admin.headers)
    assert [m["email"] for m in listed.json()["data"]] == [tenant.user.email]


def test_a_former_member_comes_back_through_an_invitation(client, tenant, settings):
    client.delete(f"{API}/team/members/{tenant.viewer.id}", headers=tenant.admin.headers)
    invite(client, tenant.admin, tenant.viewer.email, role="user")
    token = link_token(mails_to(settings, tenant.organization_id, tenant.viewer.email)[-1], "invitation")
    assert client.get(f"{API}/team/invitations/{token}").json()["needsPassword"] is False
    back = client.post(f"{API}/team/invitations/{token}/accept", json={})
    assert back.status_code == 200 and back.json()["user"]["role"] == "user"
    assert client.post(f"{API}/auth/login", json={"email": tenant.viewer.email, "password": PASSWORD}).status_code \
        == 200


def test_teams_are_created_renamed_joined_and_deleted(client, tenant):
    team = client.post(f"{API}/team/teams", json={"name": "Enterprise"}, headers=tenant.admin.headers).json()
    assert client.post(f"{API}/team/teams", json={"name": "enterprise"},
                       headers=tenant.admin.headers).json()["error"]["code"] == "DUPLICATE_TEAM"
    moved = client.put(f"{API}/team/members/{tenant.user.id}/team", json={"teamId": team["id"]},
                       headers=tenant.admin.headers)
    assert moved.json()["teamId"] == team["id"]
    renamed = client.put(f"{API}/team/teams/{team['id']}", json={"name": "Strategic"}, headers=tenant.admin.headers)
    assert renamed.json() | {"createdAt": None} == {"id": team["id"], "name": "Strategic", "description": None,
                                                     "members": 1, "createdAt": None}
    assert client.delete(f"{API}/team/teams/{team['id']}", headers=tenant.admin.headers).status_code == 204
    user = next(m for m in client.get(f"{API}/team/members", headers=tenant.admin.headers).json()["data"]
                if m["id"] == str(tenant.user.id))
    assert user["teamId"] is None
    teams = client.get(f"{API}/team/teams", headers=tenant.admin.headers).json()["data"]
    assert client.delete(f"{API}/team/teams/{teams[0]['id']}", headers=tenant.admin.headers).json()["error"][
        "code"] == "LAST_TEAM"


def test_the_audit_log_is_filtered_and_exported_for_admins_only(client, tenant):
    client.put(f"{API}/team/members/{tenant.user.id}/role", json={"role": "viewer"}, headers=tenant.admin.headers)
    log = client.get(f"{API}/audit-log", params={"action": "change_role"}, headers=tenant.admin.headers)
    assert log.status_code == 200
    [record] = log.json()["data"]
    assert record["actorEmail"] == tenant.admin.email and record["entityId"] == str(tenant.user.id)
    assert record["changes"] == {"role": {"from": "user", "to": "viewer"}}
    by_entity = client.get(f"{API}/audit-log", params={"entityType": "user", "entityId": str(tenant.user.id)},
                           headers=tenant.admin.headers).json()["data"]
    assert {r["action"] for r in by_entity} == {"change_role"}
    later = client.get(f"{API}/audit-log", params={"since": (utcnow() + timedelta(minutes=5)).isoformat()},
                       headers=tenant.admin.headers)
    assert later.json()["data"] == []
    export = client.get(f"{API}/audit-log/export", params={"action": "change_role"}, headers=tenant.admin.headers)
    assert export.headers["content-type"].startswith("text/csv")
    lines = export.text.strip().splitlines()
    assert lines[0].startswith("created_at,actor_email") and len(lines) == 2 and "change_role" in lines[1]
    assert client.get(f"{API}/audit-log", headers=tenant.user.headers).status_code == 403


@pytest.mark.parametrize("method,path,body", [
    ("get", "/team/invitations", None),
    ("put", "/team/members/{user}/role", {"role": "viewer"}),
    ("put", "/team/members/{user}/team", {"teamId": None}),
    ("delete", "/team/members/{user}", None),
    ("post", "/team/invitations/{invitation}/revoke", None),
    ("post", "/team/invitations/{invitation}/resend", None),
    ("put", "/team/teams/{team}", {"name": "Stolen"}),
    ("delete", "/team/teams/{team}", None),
])
def test_another_organizations_admin_reaches_nothing(client, tenant, other_tenant, method, path, body):
    invitation = invite(client, tenant.admin, unique_email("mine")).json()
    team = client.post(f"{API}/team/teams", json={"name": "Mine"}, headers=tenant.admin.headers).json()
    url = API + path.format(user=tenant.user.id, invitation=invitation["id"], team=team["id"])
    response = client.request(method, url, json=body, headers=other_tenant.admin.headers)
    if method == "get":
        assert response.status_code == 200 and response.json()["data"] == []
    else:
        assert response.status_code == 404, response.text
    members = client.get(f"{API}/team/members", headers=other_tenant.admin.headers).json()["data"]
    assert tenant.user.email not in {m["email"] for m in members}
    audit = client.get(f"{API}/audit-log", headers=other_tenant.admin.headers).json()["data"]
    assert all(r["actorEmail"] != tenant.admin.email for r in audit)

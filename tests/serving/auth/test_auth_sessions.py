"""Revocable sign-in sessions: a session token is exchanged for short-lived access tokens until it expires or
is revoked; it is never an access token itself, and it cannot be forged or moved to another tenant."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import update

from serving.auth.models import AuthSession
from serving.auth.service import SESSION_ACCESS_TTL, SESSION_TTL
from serving.users.models import User
from tests.factories import PASSWORD

SESSIONS = "/api/v1/auth/sessions"


def _start(client, member) -> dict:
    response = client.post(SESSIONS, headers=member.headers)
    assert response.status_code == 201, response.text
    return response.json()


def _refresh(client, token: str):
    return client.post(f"{SESSIONS}/refresh", json={"sessionToken": token})


def test_session_token_is_exchanged_for_a_short_lived_access_token(client, tenant):
    before = datetime.now(UTC)
    started = _start(client, tenant.user)
    expires = datetime.fromisoformat(started["expiresAt"])
    assert before + SESSION_TTL - timedelta(seconds=5) <= expires <= datetime.now(UTC) + SESSION_TTL
    refreshed = _refresh(client, started["sessionToken"])
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    assert body["user"]["id"] == str(tenant.user.id)
    assert datetime.fromisoformat(body["expiresAt"]) <= datetime.now(UTC) + SESSION_ACCESS_TTL
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['accessToken']}"})
    assert me.status_code == 200 and me.json()["id"] == str(tenant.user.id)


def test_revoked_session_is_refused_and_revoking_twice_is_fine(client, tenant, owner_session):
    token = _start(client, tenant.admin)["sessionToken"]
    assert _refresh(client, token).status_code == 200
    assert client.post(f"{SESSIONS}/revoke", json={"sessionToken": token}).status_code == 204
    refused = _refresh(client, token)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "SESSION_REVOKED"
    assert client.post(f"{SESSIONS}/revoke", json={"sessionToken": token}).status_code == 204
    row = owner_session.query(AuthSession).filter_by(user_id=tenant.admin.id).one()
    assert row.revoked_at is not None


def test_expired_session_is_refused(client, tenant, owner_session):
    token = _start(client, tenant.viewer)["sessionToken"]
    sid = jwt.decode(token, options={"verify_signature": False})["sid"]
    # the row says expired although the token's own `exp` is still ahead: the server's record wins
    with owner_session.begin():
        owner_session.execute(update(AuthSession).where(AuthSession.id == uuid.UUID(sid))
                              .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    refused = _refresh(client, token)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "SESSION_EXPIRED"


def test_login_token_forged_token_and_garbage_are_not_session_tokens(client, tenant):
    login = client.post("/api/v1/auth/login", json={"email": tenant.user.email, "password": PASSWORD}).json()
    session_token = _start(client, tenant.user)["sessionToken"]
    claims = jwt.decode(session_token, options={"verify_signature": False})
    forged = jwt.encode(claims, "another-secret-that-is-long-enough-for-hs256", algorithm="HS256")
    for token in (login["accessToken"], forged, "garbage", "a.b.c"):
        refused = _refresh(client, token)
        assert refused.status_code == 401, (token, refused.text)
        assert refused.json()["error"]["code"] == "INVALID_TOKEN"
    # and a session token is no access token
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {session_token}"})
    assert me.status_code == 401


def test_session_of_one_tenant_cannot_be_replayed_in_another(client, tenant, other_tenant, settings):
    token = _start(client, tenant.user)["sessionToken"]
    claims = jwt.decode(token, options={"verify_signature": False})
    # even correctly signed, a token naming another organization finds no session there (row-level security)
    moved = jwt.encode({**claims, "org": str(other_tenant.organization_id)},
                       settings.jwt_secret.get_secret_value(), algorithm=settings.jwt_algorithm)
    refused = _refresh(client, moved)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "INVALID_TOKEN"


def test_disabled_user_session_is_refused(client, tenant, owner_session):
    token = _start(client, tenant.viewer)["sessionToken"]
    with owner_session.begin():
        owner_session.execute(update(User).where(User.id == tenant.viewer.id).values(is_active=False))
    assert _refresh(client, token).status_code == 401


def test_api_keys_and_anonymous_callers_cannot_start_sessions(client, tenant):
    assert client.post(SESSIONS).status_code == 401
    created = client.post("/api/v1/api-keys", json={"name": "k", "scopes": ["prospects:read"]},
                          headers=tenant.admin.headers)
    assert created.status_code == 201, created.text
    response = client.post(SESSIONS, headers={"X-API-Key": created.json()["key"]})
    assert response.status_code == 403
    assert response.json()["success"] is False


def test_bad_bodies_get_the_envelope(client):
    for body in ({}, {"sessionToken": ""}, {"sessionToken": "x", "extra": 1}):
        response = client.post(f"{SESSIONS}/refresh", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"]


def test_access_token_from_a_session_never_outlives_it(client, tenant, owner_session):
    token = _start(client, tenant.user)["sessionToken"]
    sid = uuid.UUID(jwt.decode(token, options={"verify_signature": False})["sid"])
    soon = datetime.now(UTC) + timedelta(minutes=2)
    with owner_session.begin():
        owner_session.execute(update(AuthSession).where(AuthSession.id == sid).values(expires_at=soon))
    body = _refresh(client, token).json()
    assert datetime.fromisoformat(body["expiresAt"]) <= soon + timedelta(seconds=1)

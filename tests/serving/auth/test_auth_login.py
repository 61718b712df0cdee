"""Login, tokens and the authentication failures every endpoint shares."""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import select

from serving.audit.models import AuditLog
from serving.core.security import create_access_token
from serving.users.models import User
from tests.factories import PASSWORD, unique_email


def test_login_returns_a_token_that_authenticates(client, tenant):
    response = client.post("/api/v1/auth/login", json={"email": tenant.user.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tokenType"] == "bearer"
    assert body["user"]["email"] == tenant.user.email
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['accessToken']}"})
    assert me.status_code == 200
    assert me.json()["id"] == str(tenant.user.id)


def test_login_is_case_insensitive_on_email(client, tenant):
    response = client.post("/api/v1/auth/login",
                           json={"email": tenant.user.email.upper(), "password": PASSWORD})
    assert response.status_code == 200


def test_wrong_password_and_unknown_email_look_the_same(client, tenant):
    wrong = client.post("/api/v1/auth/login", json={"email": tenant.user.email, "password": "nope-nope"})
    unknown = client.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"]["code"] == unknown.json()["error"]["code"] == "INVALID_CREDENTIALS"
    assert wrong.json()["success"] is False


def test_login_validation_error_uses_the_envelope(client):
    response = client.post("/api/v1/auth/login", json={"email": "not-an-email", "password": "x"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == "email"


def test_missing_bad_and_expired_tokens_are_refused(client, tenant, settings):
    assert client.get("/api/v1/prospects").json()["error"]["code"] == "UNAUTHORIZED"
    bad = client.get("/api/v1/prospects", headers={"Authorization": "Bearer not.a.jwt"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "INVALID_TOKEN"
    expired, _ = create_access_token(settings=settings, user_id=tenant.user.id,
                                     organization_id=tenant.organization_id, role="user",
                                     expires_in=timedelta(seconds=-5))
    response = client.get("/api/v1/prospects", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "TOKEN_EXPIRED"


def test_token_signed_with_another_secret_is_refused(client, tenant, settings):
    forged_settings = settings.model_copy(update={"jwt_secret": type(settings.jwt_secret)("x" * 40)})
    forged, _ = create_access_token(settings=forged_settings, user_id=tenant.admin.id,
                                    organization_id=tenant.organization_id, role="admin")
    response = client.get("/api/v1/prospects", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


def _login(client, email: str, password: str = PASSWORD):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def test_login_body_carries_expiry_and_user_profile(client, tenant, settings):
    before = datetime.now(UTC)
    body = _login(client, tenant.admin.email).json()
    expires_at = datetime.fromisoformat(body["expiresAt"])
    expected = before + settings.jwt_expiration
    assert abs((expires_at - expected).total_seconds()) < 60
    assert body["user"]["role"] == "admin"
    assert body["user"]["organizationId"] == str(tenant.organization_id)
    assert body["user"]["teamId"] == str(tenant.team_id)
    assert body["user"]["isActive"] is True
    assert "passwordHash" not in body["user"] and "password_hash" not in body["user"]


def test_login_records_last_login_and_audit(client, tenant, owner_session):
    assert _login(client, tenant.viewer.email).status_code == 200
    user = owner_session.get(User, tenant.viewer.id)
    assert user.last_login_at is not None
    assert (datetime.now(UTC) - user.last_login_at).total_seconds() < 60
    actions = owner_session.scalars(
        select(AuditLog.action).where(AuditLog.organization_id == tenant.organization_id,
                                      AuditLog.entity_id == str(tenant.viewer.id))
    ).all()
    assert "login" in actions


def test_failed_logins_look_identical_and_take_comparable_time(client, tenant):
    """Unknown e-mails still pay for an argon2 verification, so timing does not reveal accounts."""
    def timed(email: str) -> tuple[float, dict, int]:
        start = time.perf_counter()
        response = _login(client, email, "definitely-wrong")
        return time.perf_counter() - start, response.json(), response.status_code

    timed(tenant.user.email)  # warm up
    known = [timed(tenant.user.email) for _ in range(3)]
    unknown = [timed(f"ghost-{uuid.uuid4().hex[:8]}@example.com") for _ in range(3)]
    assert {status for _, _, status in known + unknown} == {401}
    assert all(body == known[0][1] for _, body, _ in known + unknown)
    known_median = statistics.median(t for t, _, _ in known)
    unknown_median = statistics.median(t for t, _, _ in unknown)
    # without the dummy verification an unknown e-mail answers ~30x faster; allow for a noisy machine
    assert unknown_median > known_median / 5, (known_median, unknown_median)
    assert known_median > unknown_median / 5, (known_median, unknown_median)


def test_disabled_user_cannot_log_in_and_existing_token_is_refused(client, tenant, owner_session):
    assert client.get("/api/v1/auth/me", headers=tenant.user.headers).status_code == 200
    owner_session.get(User, tenant.user.id).is_active = False
    owner_session.commit()
    me = client.get("/api/v1/auth/me", headers=tenant.user.headers)
    assert me.status_code == 401
    assert me.json()["error"]["code"] == "INVALID_TOKEN"
    login = _login(client, tenant.user.email)
    assert login.status_code == 401
    assert login.json()["error"]["code"] == "INVALID_CREDENTIALS"


def test_deleted_user_token_is_refused(client, tenant, owner_session):
    owner_session.delete(owner_session.get(User, tenant.user.id))
    owner_session.commit()
    response = client.get("/api/v1/prospects", headers=tenant.user.headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_TOKEN"


def test_role_comes_from_the_database_not_the_token(client, tenant, owner_session):
    """A demoted admin loses admin rights at once, although the token still says `admin`."""
    user_key = client.post("/api/v1/api-keys", json={"name": "rep key", "scopes": ["prospects:read"]},
                           headers=tenant.user.headers)
    assert user_key.status_code == 201, user_key.text
    seen_as_admin = client.get("/api/v1/api-keys", headers=tenant.admin.headers).json()["data"]
    assert user_key.json()["id"] in {k["id"] for k in seen_as_admin}

    owner_session.get(User, tenant.admin.id).role = "user"
    owner_session.commit()
    me = client.get("/api/v1/auth/me", headers=tenant.admin.headers).json()
    assert me["role"] == "user"
    seen_after = client.get("/api/v1/api-keys", headers=tenant.admin.headers).json()["data"]
    assert user_key.json()["id"] not in {k["id"] for k in seen_after}

    owner_session.get(User, tenant.admin.id).role = "viewer"
    owner_session.commit()
    response = client.post("/api/v1/prospects", json={"email": unique_email()}, headers=tenant.admin.headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "INSUFFICIENT_ROLE"


def test_token_claiming_a_higher_role_gains_nothing(client, tenant, settings):
    forged, _ = create_access_token(settings=settings, user_id=tenant.viewer.id,
                                    organization_id=tenant.organization_id, role="admin")
    response = client.post("/api/v1/prospects", json={"email": unique_email()},
                           headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 403


def test_token_for_a_user_under_another_organization_is_refused(client, tenant, other_tenant, settings):
    """The org claim binds row-level security: a user id paired with a foreign org finds no user."""
    crossed, _ = create_access_token(settings=settings, user_id=tenant.admin.id,
                                     organization_id=other_tenant.organization_id, role="admin")
    response = client.get("/api/v1/prospects", headers={"Authorization": f"Bearer {crossed}"})
    assert response.status_code == 401


def test_me_requires_authentication_and_reports_the_caller(client, tenant):
    assert client.get("/api/v1/auth/me").status_code == 401
    assert client.get("/api/v1/auth/me").headers["www-authenticate"] == "Bearer"
    me = client.get("/api/v1/auth/me", headers=tenant.viewer.headers).json()
    assert me["email"] == tenant.viewer.email
    assert me["role"] == "viewer"
    assert me["organizationId"] == str(tenant.organization_id)


def test_non_access_tokens_and_malformed_subjects_are_refused(client, tenant, settings):
    secret = settings.jwt_secret.get_secret_value()
    now = int(time.time())
    base = {"sub": str(tenant.user.id), "org": str(tenant.organization_id), "iat": now, "exp": now + 60}
    for claims in ({**base, "typ": "refresh"}, {**base, "typ": "access", "sub": "not-a-uuid"},
                   {"sub": str(tenant.user.id), "iat": now, "exp": now + 60, "typ": "access"}):
        token = jwt.encode(claims, secret, algorithm="HS256")
        response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, claims
        assert response.json()["error"]["code"] == "INVALID_TOKEN"
    unsigned = jwt.encode({**base, "typ": "access"}, key=None, algorithm="none")
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {unsigned}"}).status_code == 401


def test_login_rejects_unknown_fields_and_missing_password(client, tenant):
    extra = client.post("/api/v1/auth/login", json={"email": tenant.user.email, "password": PASSWORD, "x": 1})
    assert extra.status_code == 422
    assert extra.json()["error"]["details"]["field"] == "x"
    missing = client.post("/api/v1/auth/login", json={"email": tenant.user.email})
    assert missing.status_code == 422
    assert missing.json()["error"]["details"]["field"] == "password"

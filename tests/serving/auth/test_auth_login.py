"""Login, tokens and the authentication failures every endpoint shares."""

from __future__ import annotations

from datetime import timedelta

from serving.core.security import create_access_token
from tests.factories import PASSWORD


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
    response = client.post("/api/v1/auth/login", json={"email": tenant.user.email.upper(), "password": PASSWORD})
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

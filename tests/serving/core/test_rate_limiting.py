"""Rate limits: auth per IP, general per user or API key; X-RateLimit-* headers, 429 in the envelope."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from serving.main import create_app
from tests.conftest import make_settings
from tests.factories import PASSWORD

LIMIT_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


@pytest.fixture
def limited(settings, state_dir):
    """A separate app (its own in-memory counters) with tiny limits."""
    tight = make_settings(settings.owner_database_url, state_dir, RATE_LIMIT_AUTH="3/minute",
                          RATE_LIMIT_GENERAL="4/hour")
    with TestClient(create_app(tight)) as test_client:
        yield test_client


def test_fourth_login_from_one_ip_is_rate_limited(limited, tenant):
    remaining = []
    for _ in range(3):
        response = limited.post("/api/v1/auth/login", json={"email": tenant.user.email, "password": PASSWORD})
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "3"
        remaining.append(int(response.headers["x-ratelimit-remaining"]))
    assert remaining == [2, 1, 0]
    # a wrong password counts too
    blocked = limited.post("/api/v1/auth/login", json={"email": tenant.user.email, "password": "wrong-wrong"})
    assert blocked.status_code == 429
    body = blocked.json()
    assert body["success"] is False and body["error"]["code"] == "RATE_LIMITED"
    assert body["error"]["details"]["limit"] == 3
    retry_after = int(blocked.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert body["error"]["details"]["retryAfter"] == retry_after
    assert blocked.headers["x-ratelimit-limit"] == "3"
    assert blocked.headers["x-ratelimit-remaining"] == "0"
    reset = int(blocked.headers["x-ratelimit-reset"])
    assert time.time() - 1 <= reset <= time.time() + 61
    # signed-in users checking who they are are not locked out with the login attempts of their IP
    me = limited.get("/api/v1/auth/me", headers=tenant.user.headers)
    assert me.status_code == 200
    assert me.headers["x-ratelimit-limit"] == "4"


def test_session_exchange_is_not_under_the_login_limit(limited, tenant):
    token = limited.post("/api/v1/auth/sessions", headers=tenant.user.headers).json()["sessionToken"]
    for _ in range(3):
        limited.post("/api/v1/auth/login", json={"email": tenant.user.email, "password": PASSWORD})
    # the dashboards exchange sessions for all their users from one address: a reload is not a login attempt
    refreshed = limited.post("/api/v1/auth/sessions/refresh", json={"sessionToken": token})
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.headers["x-ratelimit-limit"] == "4"
    revoked = limited.post("/api/v1/auth/sessions/revoke", json={"sessionToken": token})
    assert revoked.status_code == 204


def test_auth_limit_does_not_consume_the_general_limit(limited, tenant):
    for _ in range(3):
        limited.post("/api/v1/auth/login", json={"email": tenant.user.email, "password": PASSWORD})
    response = limited.get("/api/v1/prospects", headers=tenant.user.headers)
    assert response.status_code == 200
    assert response.headers["x-ratelimit-limit"] == "4"
    assert response.headers["x-ratelimit-remaining"] == "3"


def test_general_limit_headers_are_counted_per_user(limited, tenant, other_tenant):
    remaining = []
    for _ in range(4):
        response = limited.get("/api/v1/prospects", headers=tenant.user.headers)
        assert response.status_code == 200
        assert all(h in response.headers for h in LIMIT_HEADERS)
        remaining.append(int(response.headers["x-ratelimit-remaining"]))
    assert remaining == [3, 2, 1, 0]
    blocked = limited.get("/api/v1/prospects", headers=tenant.user.headers)
    assert blocked.status_code == 429 and blocked.json()["error"]["code"] == "RATE_LIMITED"
    assert "retry-after" in blocked.headers
    # other users, in this organization or another, have their own budget
    for member in (tenant.admin, other_tenant.user):
        response = limited.get("/api/v1/prospects", headers=member.headers)
        assert response.status_code == 200
        assert response.headers["x-ratelimit-remaining"] == "3"


def test_api_keys_have_their_own_budget(limited, client, tenant):
    secret = client.post("/api/v1/api-keys", json={"name": "limits", "scopes": ["prospects:read"]},
                         headers=tenant.user.headers).json()["key"]
    for _ in range(4):
        assert limited.get("/api/v1/prospects", headers={"X-API-Key": secret}).status_code == 200
    assert limited.get("/api/v1/prospects", headers={"X-API-Key": secret}).status_code == 429
    assert limited.get("/api/v1/prospects", headers={"Authorization": f"Bearer {secret}"}).status_code == 429
    assert limited.get("/api/v1/prospects", headers=tenant.user.headers).status_code == 200


def test_rejected_requests_are_not_served(limited, tenant, owner_session):
    for _ in range(4):
        limited.get("/api/v1/prospects", headers=tenant.user.headers)
    response = limited.post("/api/v1/prospects", json={"email": "never@example.com"},
                            headers=tenant.user.headers)
    assert response.status_code == 429
    assert client_sees_no_prospects(limited, tenant.admin)


def client_sees_no_prospects(test_client, member) -> bool:
    return test_client.get("/api/v1/prospects", headers=member.headers).json()["pagination"]["total"] == 0


def test_health_and_docs_are_not_limited(limited):
    for _ in range(6):
        for path in ("/healthz", "/openapi.json"):
            response = limited.get(path)
            assert response.status_code == 200
            assert "x-ratelimit-limit" not in response.headers


def test_limits_can_be_switched_off(settings, state_dir, tenant):
    off = make_settings(settings.owner_database_url, state_dir, RATE_LIMIT_ENABLED=False,
                        RATE_LIMIT_GENERAL="1/hour")
    with TestClient(create_app(off)) as test_client:
        for _ in range(3):
            response = test_client.get("/api/v1/prospects", headers=tenant.user.headers)
            assert response.status_code == 200
            assert "x-ratelimit-limit" not in response.headers

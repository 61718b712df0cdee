"""API keys end to end: the secret is shown once and stored hashed; revoke, rotate, expiry, usage, scopes."""

from __future__ import annotations

import hashlib
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from serving.api_keys.models import ApiKey
from serving.core.idempotency import IdempotencyRecord
from serving.main import create_app
from serving.users.models import User
from tests.conftest import make_settings
from tests.factories import unique_email

URL = "/api/v1/api-keys"


def create_key(client, member, scopes=("prospects:read",), **extra) -> dict:
    response = client.post(URL, json={"name": f"key {uuid.uuid4().hex[:6]}", "scopes": list(scopes), **extra},
                           headers=member.headers)
    assert response.status_code == 201, response.text
    return response.json()


def key_headers(secret: str) -> dict[str, str]:
    return {"X-API-Key": secret}


def test_create_returns_the_secret_once_and_stores_only_its_hash(client, tenant, owner_session):
    body = create_key(client, tenant.user, scopes=["prospects:write", "prospects:read", "prospects:read"])
    secret = body["key"]
    assert secret.startswith("sk_live_")
    assert len(secret) > len("sk_live_") + 32
    assert body["prefix"] == secret[: len("sk_live_") + 6]
    assert body["scopes"] == ["prospects:read", "prospects:write"]
    assert body["status"] == "active"
    assert body["environment"] == "live"
    assert body["userId"] == str(tenant.user.id)
    assert body["requestCount"] == 0 and body["lastUsedAt"] is None

    stmt = select(ApiKey.__table__).where(ApiKey.id == uuid.UUID(body["id"]))
    row = owner_session.execute(stmt).mappings().one()
    assert row["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert all(secret not in str(value) for value in row.values())
    assert secret[len(body["prefix"]):] not in "".join(str(v) for v in row.values())

    listed = client.get(URL, headers=tenant.user.headers).json()["data"]
    mine = next(k for k in listed if k["id"] == body["id"])
    assert "key" not in mine and "keyHash" not in mine


def test_test_environment_keys_have_the_test_prefix_and_work(client, tenant):
    body = create_key(client, tenant.user, environment="test")
    assert body["key"].startswith("sk_test_") and body["environment"] == "test"
    assert client.get("/api/v1/prospects", headers=key_headers(body["key"])).status_code == 200


def test_bearer_api_key_is_accepted(client, tenant):
    secret = create_key(client, tenant.user)["key"]
    response = client.get("/api/v1/prospects", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200, response.text


def test_unknown_api_key_is_refused(client):
    response = client.get("/api/v1/prospects", headers=key_headers("sk_live_" + "x" * 43))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_API_KEY"


def test_users_list_their_own_keys_and_admins_see_the_organization(client, tenant):
    mine = create_key(client, tenant.user)
    admins = create_key(client, tenant.admin)
    user_ids = {k["id"] for k in client.get(URL, headers=tenant.user.headers).json()["data"]}
    assert mine["id"] in user_ids and admins["id"] not in user_ids
    listed = client.get(URL, headers=tenant.admin.headers).json()
    assert {mine["id"], admins["id"]} <= {k["id"] for k in listed["data"]}
    assert listed["pagination"]["total"] == 2
    viewer_list = client.get(URL, headers=tenant.viewer.headers)
    assert viewer_list.status_code == 200 and viewer_list.json()["data"] == []


def test_list_is_paginated_newest_first(client, tenant):
    ids = [create_key(client, tenant.user)["id"] for _ in range(3)]
    first = client.get(URL, params={"limit": 2}, headers=tenant.user.headers).json()
    second = client.get(URL, params={"limit": 2, "page": 2}, headers=tenant.user.headers).json()
    assert first["pagination"] == {"page": 1, "limit": 2, "total": 3, "pages": 2}
    assert [k["id"] for k in first["data"] + second["data"]] == ids[::-1]


def test_revoked_key_is_refused(client, tenant):
    body = create_key(client, tenant.user)
    assert client.get("/api/v1/prospects", headers=key_headers(body["key"])).status_code == 200
    revoked = client.delete(f"{URL}/{body['id']}", headers=tenant.user.headers)
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked" and revoked.json()["revokedAt"] is not None
    response = client.get("/api/v1/prospects", headers=key_headers(body["key"]))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "API_KEY_REVOKED"
    listed = {k["id"]: k for k in client.get(URL, headers=tenant.user.headers).json()["data"]}
    assert listed[body["id"]]["status"] == "revoked"


def test_admin_can_revoke_a_members_key_but_members_cannot_touch_each_other(client, tenant):
    body = create_key(client, tenant.admin)
    for method in ("delete", "put"):
        path = f"{URL}/{body['id']}" + ("/rotate" if method == "put" else "")
        response = client.request(method.upper(), path, headers=tenant.user.headers)
        assert response.status_code == 404, (method, response.text)
    assert client.get(f"{URL}/{body['id']}/usage", headers=tenant.user.headers).status_code == 404
    users_key = create_key(client, tenant.user)
    assert client.delete(f"{URL}/{users_key['id']}", headers=tenant.admin.headers).status_code == 200


def test_unknown_key_id_is_404_in_the_envelope(client, tenant):
    response = client.delete(f"{URL}/{uuid.uuid4()}", headers=tenant.admin.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    assert client.delete(f"{URL}/not-a-uuid", headers=tenant.admin.headers).status_code == 422


def test_rotate_replaces_the_secret_and_keeps_scopes(client, tenant, owner_session):
    expires = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    old = create_key(client, tenant.user, scopes=["prospects:read", "deals:read"],
                     expiresAt=expires.isoformat())
    rotated = client.put(f"{URL}/{old['id']}/rotate", headers=tenant.user.headers)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["id"] != old["id"] and new["key"] != old["key"]
    assert new["key"].startswith("sk_live_")
    assert new["scopes"] == old["scopes"] == ["deals:read", "prospects:read"]
    assert new["name"] == old["name"]
    assert datetime.fromisoformat(new["expiresAt"]) == expires
    refused = client.get("/api/v1/prospects", headers=key_headers(old["key"]))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "API_KEY_REVOKED"
    assert client.get("/api/v1/prospects", headers=key_headers(new["key"])).status_code == 200
    row = owner_session.get(ApiKey, uuid.UUID(new["id"]))
    assert row.rotated_from_id == uuid.UUID(old["id"])
    again = client.put(f"{URL}/{old['id']}/rotate", headers=tenant.user.headers)
    assert again.status_code == 403 and again.json()["error"]["code"] == "API_KEY_NOT_ACTIVE"


def test_expired_key_is_refused_and_listed_as_expired(client, tenant, owner_session):
    body = create_key(client, tenant.user)
    owner_session.get(ApiKey, uuid.UUID(body["id"])).expires_at = datetime.now(UTC) - timedelta(minutes=1)
    owner_session.commit()
    response = client.get("/api/v1/prospects", headers=key_headers(body["key"]))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "API_KEY_EXPIRED"
    listed = {k["id"]: k for k in client.get(URL, headers=tenant.user.headers).json()["data"]}
    assert listed[body["id"]]["status"] == "expired"


def test_expiry_must_be_in_the_future_with_a_time_zone(client, tenant):
    past = client.post(URL, json={"name": "x", "scopes": ["prospects:read"],
                                  "expiresAt": (datetime.now(UTC) - timedelta(days=1)).isoformat()},
                       headers=tenant.user.headers)
    assert past.status_code == 422 and past.json()["error"]["details"]["field"] == "expiresAt"
    naive = client.post(URL, json={"name": "x", "scopes": ["prospects:read"],
                                   "expiresAt": "2099-01-01T00:00:00"}, headers=tenant.user.headers)
    assert naive.status_code == 422


def test_create_validation(client, tenant):
    for payload, field in (
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "scopes": ["prospects:admin"]}, "scopes.0"),
        ({"name": "", "scopes": ["prospects:read"]}, "name"),
        ({"name": "x", "scopes": ["prospects:read"], "environment": "staging"}, "environment"),
        ({"name": "x", "scopes": ["prospects:read"], "owner": "me"}, "owner"),
    ):
        response = client.post(URL, json=payload, headers=tenant.user.headers)
        assert response.status_code == 422, payload
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert response.json()["error"]["details"]["field"] == field, response.json()


def test_usage_counts_requests(client, tenant, owner_session):
    body = create_key(client, tenant.user)
    for _ in range(3):
        assert client.get("/api/v1/prospects", headers=key_headers(body["key"])).status_code == 200
    assert client.post("/api/v1/prospects", json={"email": unique_email()},
                       headers=key_headers(body["key"])).status_code == 403
    usage = client.get(f"{URL}/{body['id']}/usage", headers=tenant.user.headers)
    assert usage.status_code == 200, usage.text
    data = usage.json()
    assert data["id"] == body["id"]
    assert data["requestCount"] == 4
    assert data["status"] == "active"
    assert (datetime.now(UTC) - datetime.fromisoformat(data["lastUsedAt"])).total_seconds() < 60
    today = owner_session.scalar(select(func.current_date()))
    assert data["daily"] == [{"date": today.isoformat(), "requestCount": 4}]
    no_days = client.get(f"{URL}/{body['id']}/usage", params={"days": 0}, headers=tenant.user.headers)
    assert no_days.status_code == 422


def test_usage_lists_earlier_days_in_order(client, tenant, owner_session):
    body = create_key(client, tenant.user)
    owner_session.execute(
        text("insert into app.api_key_usage_daily (api_key_id, day, organization_id, request_count) values "
             "(:id, current_date - 2, :org, 7), (:id, current_date - 40, :org, 9)"),
        {"id": body["id"], "org": tenant.organization_id},
    )
    owner_session.commit()
    client.get("/api/v1/prospects", headers=key_headers(body["key"]))
    daily = client.get(f"{URL}/{body['id']}/usage", headers=tenant.user.headers).json()["daily"]
    assert [d["requestCount"] for d in daily] == [7, 1]
    longer = client.get(f"{URL}/{body['id']}/usage", params={"days": 60}, headers=tenant.user.headers).json()
    assert [d["requestCount"] for d in longer["daily"]] == [9, 7, 1]


def test_api_key_cannot_manage_api_keys(client, tenant):
    body = create_key(client, tenant.admin, scopes=["prospects:read", "webhooks:manage"])
    headers = key_headers(body["key"])
    for method, path in (("GET", URL), ("POST", URL), ("DELETE", f"{URL}/{body['id']}"),
                         ("PUT", f"{URL}/{body['id']}/rotate"), ("GET", f"{URL}/{body['id']}/usage")):
        kwargs = {"json": {"name": "child", "scopes": ["prospects:read"]}} if method == "POST" else {}
        response = client.request(method, path, headers=headers, **kwargs)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"]["code"] == "FORBIDDEN"


def test_key_without_the_scope_gets_insufficient_scope(client, tenant):
    body = create_key(client, tenant.user, scopes=["deals:read"])
    response = client.get("/api/v1/prospects", headers=key_headers(body["key"]))
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "INSUFFICIENT_SCOPE"
    assert error["details"]["requiredScope"] == "prospects:read"
    assert error["details"]["keyScopes"] == ["deals:read"]
    reader = create_key(client, tenant.user, scopes=["prospects:read"])
    write = client.post("/api/v1/prospects", json={"email": unique_email()},
                        headers=key_headers(reader["key"]))
    assert write.status_code == 403 and write.json()["error"]["code"] == "INSUFFICIENT_SCOPE"


def test_write_scoped_key_can_write(client, tenant):
    body = create_key(client, tenant.user, scopes=["prospects:read", "prospects:write"])
    created = client.post("/api/v1/prospects", json={"email": unique_email()},
                          headers=key_headers(body["key"]))
    assert created.status_code == 201, created.text
    assert created.json()["ownerId"] == str(tenant.user.id)


def test_viewer_cannot_create_a_key_and_a_viewers_key_never_writes(client, tenant, owner_session):
    refused = client.post(URL, json={"name": "v", "scopes": ["prospects:write"]},
                          headers=tenant.viewer.headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "INSUFFICIENT_ROLE"
    # Even a key planted in the database with a write scope only reads: the role caps the scopes.
    secret = "sk_live_" + uuid.uuid4().hex + uuid.uuid4().hex
    owner_session.add(ApiKey(organization_id=tenant.organization_id, user_id=tenant.viewer.id, name="planted",
                             prefix=secret[:14], key_hash=hashlib.sha256(secret.encode()).hexdigest(),
                             scopes=["prospects:read", "prospects:write"], environment="live"))
    owner_session.commit()
    assert client.get("/api/v1/prospects", headers=key_headers(secret)).status_code == 200
    write = client.post("/api/v1/prospects", json={"email": unique_email()}, headers=key_headers(secret))
    assert write.status_code == 403
    assert write.json()["error"]["code"] == "INSUFFICIENT_ROLE"


def test_key_follows_its_users_current_role_and_status(client, tenant, owner_session):
    body = create_key(client, tenant.user, scopes=["prospects:read", "prospects:write"])
    owner_session.get(User, tenant.user.id).role = "viewer"
    owner_session.commit()
    write = client.post("/api/v1/prospects", json={"email": unique_email()}, headers=key_headers(body["key"]))
    assert write.status_code == 403
    owner_session.get(User, tenant.user.id).is_active = False
    owner_session.commit()
    disabled = client.get("/api/v1/prospects", headers=key_headers(body["key"]))
    assert disabled.status_code == 401 and disabled.json()["error"]["code"] == "INVALID_API_KEY"


def test_idempotent_create_does_not_persist_the_secret(client, tenant, owner_session):
    headers = {**tenant.user.headers, "Idempotency-Key": uuid.uuid4().hex}
    payload = {"name": "ci", "scopes": ["prospects:read"]}
    first = client.post(URL, json=payload, headers=headers)
    assert first.status_code == 201
    secret = first.json()["key"]
    replay = client.post(URL, json=payload, headers=headers)
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert replay.json()["key"] is None
    assert owner_session.scalar(select(func.count()).select_from(ApiKey).where(
        ApiKey.user_id == tenant.user.id)) == 1
    stored = owner_session.scalars(select(IdempotencyRecord.response_body).where(
        IdempotencyRecord.organization_id == tenant.organization_id)).all()
    assert stored and all(secret not in str(body) for body in stored)


def test_concurrent_key_requests_do_not_exhaust_the_pool(client, tenant, settings, state_dir):
    """Counting a key's use must not wait for a second connection from the request pool (deadlock)."""
    body = create_key(client, tenant.user)
    small = make_settings(settings.owner_database_url, state_dir, DB_POOL_SIZE=1)
    with TestClient(create_app(small)) as small_client, ThreadPoolExecutor(8) as pool:
        started = time.perf_counter()
        codes = list(pool.map(
            lambda _: small_client.get("/api/v1/prospects", headers=key_headers(body["key"])).status_code,
            range(16),
        ))
        assert codes == [200] * 16
        assert time.perf_counter() - started < 20
    usage = client.get(f"{URL}/{body['id']}/usage", headers=tenant.user.headers).json()
    assert usage["requestCount"] == 16

"""`GET /prospects/{id}` on the fast read path (serving/core/fast_read.py): the same body as the ORM path, field
for field, and the same security — row-level security, revoked and expired keys, scopes, a disabled or demoted
user — since authentication, the tenant binding and the row are now one round trip without the ORM."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from serving.api_keys.models import ApiKey
from serving.core.db import set_tenant
from serving.prospects.models import Prospect
from serving.prospects.schemas import ProspectOut
from serving.users.models import User
from tests.factories import unique_email

URL = "/api/v1/prospects"


def _prospect(tenant, **values) -> Prospect:
    return tenant.add(Prospect, email=unique_email("fast"), team_id=tenant.team_id, owner_id=tenant.user.id,
                      **values)


def _key(client, member, scopes=("prospects:read",)) -> dict:
    response = client.post("/api/v1/api-keys", json={"name": f"k {uuid.uuid4().hex[:6]}", "scopes": list(scopes)},
                           headers=member.headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_body_is_the_response_model_of_the_stored_row_field_for_field(client, tenant):
    prospect = _prospect(
        tenant, first_name="Zoë", last_name=None, company="Ünïcode GmbH “quoted”", title="VP\nSales",
        status="engaged", relationship_stage="aware", priority_score=87, intent_score=0, intent_tier="hot",
        qualification_score=100, bdr_assigned=True, enrichment_data={"size": 1200, "tags": ["a", "b"], "ok": True},
        ai_insights={"summary": "x" * 300, "score": 0.125}, custom_fields={"nested": {"deep": [1, None, "z"]}},
        last_contacted_at=datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC),
    )
    with tenant.session() as session, session.begin():
        set_tenant(session, tenant.organization_id)
        expected = ProspectOut.model_validate(session.get(Prospect, prospect.id)).model_dump(mode="json",
                                                                                             by_alias=True)
    response = client.get(f"{URL}/{prospect.id}", headers=tenant.viewer.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected
    assert list(response.json()) == list(expected)  # same fields in the same order
    assert response.headers["x-request-id"] and response.headers["x-ratelimit-limit"]


def test_another_organizations_prospect_is_not_found_with_a_token_or_a_key(client, tenant, other_tenant):
    theirs = _prospect(other_tenant)
    key = _key(client, tenant.user)
    for headers in (tenant.admin.headers, {"X-API-Key": key["key"]}):
        response = client.get(f"{URL}/{theirs.id}", headers=headers)
        assert response.status_code == 404, response.text
        assert response.json() == {"success": False, "error": {
            "code": "NOT_FOUND", "message": "prospect not found",
            "details": {"resource": "prospect", "id": str(theirs.id)}}}
    assert client.get(f"{URL}/{theirs.id}", headers=other_tenant.viewer.headers).status_code == 200


def test_revoked_and_expired_keys_are_refused_at_once(client, tenant, owner_session):
    prospect = _prospect(tenant)
    revoked, expired = _key(client, tenant.user), _key(client, tenant.user)
    for key in (revoked, expired):
        assert client.get(f"{URL}/{prospect.id}", headers={"X-API-Key": key["key"]}).status_code == 200
    assert client.delete(f"/api/v1/api-keys/{revoked['id']}", headers=tenant.user.headers).status_code == 200
    owner_session.get(ApiKey, uuid.UUID(expired["id"])).expires_at = datetime.now(UTC) - timedelta(seconds=1)
    owner_session.commit()
    for key, code in ((revoked, "API_KEY_REVOKED"), (expired, "API_KEY_EXPIRED")):
        response = client.get(f"{URL}/{prospect.id}", headers={"X-API-Key": key["key"]})
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == code
        assert "email" not in response.text
    unknown = client.get(f"{URL}/{prospect.id}", headers={"X-API-Key": "sk_live_" + "x" * 43})
    assert unknown.status_code == 401 and unknown.json()["error"]["code"] == "INVALID_API_KEY"


def test_key_use_is_counted_and_a_key_without_the_scope_is_forbidden(client, tenant):
    prospect = _prospect(tenant)
    key = _key(client, tenant.user)
    for _ in range(3):
        assert client.get(f"{URL}/{prospect.id}", headers={"Authorization": f"Bearer {key['key']}"}).status_code == 200
    usage = client.get(f"/api/v1/api-keys/{key['id']}/usage", headers=tenant.user.headers).json()
    assert usage["requestCount"] == 3
    narrow = _key(client, tenant.user, scopes=("accounts:read",))
    response = client.get(f"{URL}/{prospect.id}", headers={"X-API-Key": narrow["key"]})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "INSUFFICIENT_SCOPE"


def test_disabled_user_is_refused_at_once_and_credentials_are_required(client, tenant, owner_session):
    prospect = _prospect(tenant)
    assert client.get(f"{URL}/{prospect.id}", headers=tenant.user.headers).status_code == 200
    owner_session.get(User, tenant.user.id).is_active = False
    owner_session.commit()
    response = client.get(f"{URL}/{prospect.id}", headers=tenant.user.headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_TOKEN"
    assert response.headers["www-authenticate"] == "Bearer"
    for headers, code in (({}, "UNAUTHORIZED"), ({"Authorization": "Bearer not.a.jwt"}, "INVALID_TOKEN")):
        response = client.get(f"{URL}/{prospect.id}", headers=headers)
        assert response.status_code == 401 and response.json()["error"]["code"] == code


def test_unknown_and_malformed_ids(client, tenant):
    missing = uuid.uuid4()
    response = client.get(f"{URL}/{missing}", headers=tenant.viewer.headers)
    assert response.status_code == 404 and response.json()["error"]["details"]["id"] == str(missing)
    malformed = client.get(f"{URL}/not-a-uuid", headers=tenant.viewer.headers)
    assert malformed.status_code == 422 and malformed.json()["error"]["code"] == "VALIDATION_ERROR"


def test_the_tenant_binding_ends_with_the_request(client, tenant, other_tenant):
    """The pool's connections are shared by all organizations: a binding must not outlive its transaction."""
    mine, theirs = _prospect(tenant), _prospect(other_tenant)
    for _ in range(6):  # more requests than the pool has connections, alternating tenants
        assert client.get(f"{URL}/{mine.id}", headers=tenant.viewer.headers).status_code == 200
        assert client.get(f"{URL}/{mine.id}", headers=other_tenant.viewer.headers).status_code == 404
        assert client.get(f"{URL}/{theirs.id}", headers=tenant.viewer.headers).status_code == 404

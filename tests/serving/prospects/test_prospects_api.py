"""Prospect CRUD through the API: camelCase payloads, validation, roles."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from serving.prospects.models import Prospect
from tests.factories import unique_email


def test_create_and_read_prospect_with_seed_payload(client, tenant):
    payload = {"email": "John@Acme.com".replace("John", f"john{unique_email()[:6]}"), "firstName": "John",
               "lastName": "Doe", "company": "Acme Inc", "enrichmentEnabled": True, "phone": "(415) 555-2671"}
    response = client.post("/api/v1/prospects", json=payload, headers=tenant.user.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == payload["email"].lower()
    assert body["firstName"] == "John"
    assert body["enrichmentEnabled"] is True
    assert body["phone"] == "+14155552671"
    assert body["ownerId"] == str(tenant.user.id)
    fetched = client.get(f"/api/v1/prospects/{body['id']}", headers=tenant.viewer.headers)
    assert fetched.status_code == 200
    assert fetched.json() == body


URL = "/api/v1/prospects"


def _create(client, member, **payload) -> dict:
    payload.setdefault("email", unique_email("p"))
    response = client.post(URL, json=payload, headers=member.headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_defaults_and_snake_case_input(client, tenant):
    body = _create(client, tenant.user, first_name="Ada", linkedin_url="https://www.linkedin.com/in/ada",
                   custom_fields={"tier": "gold"})
    assert body["firstName"] == "Ada"
    assert body["linkedinUrl"] == "https://www.linkedin.com/in/ada"
    assert body["customFields"] == {"tier": "gold"}
    assert body["status"] == "new"
    assert body["relationshipStage"] == "new"
    assert body["bdrAssigned"] is False and body["enrichmentEnabled"] is False
    assert body["teamId"] == str(tenant.team_id)
    assert body["organizationId"] == str(tenant.organization_id)
    assert body["priorityScore"] is None and body["enrichmentData"] == {} and body["aiInsights"] == {}


def test_create_can_assign_another_owner_of_the_same_org(client, tenant, other_tenant):
    body = _create(client, tenant.admin, ownerId=str(tenant.user.id))
    assert body["ownerId"] == str(tenant.user.id)
    foreign = client.post(URL, json={"email": unique_email(), "ownerId": str(other_tenant.user.id)},
                          headers=tenant.admin.headers)
    assert foreign.status_code == 422
    assert foreign.json()["error"]["details"]["field"] == "ownerId"


def test_phones_are_normalised_to_e164(client, tenant):
    for raw, expected in (("415-555-2671", "+14155552671"), ("+44 20 7946 0958", "+442079460958"),
                          ("+1 (212) 555 0123", "+12125550123"), ("  +49 30 901820  ", "+4930901820")):
        assert _create(client, tenant.user, phone=raw)["phone"] == expected, raw


def test_validation_errors_name_the_field(client, tenant):
    cases = (
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({}, "email"),
        ({"email": unique_email(), "phone": "12"}, "phone"),
        ({"email": unique_email(), "phone": "call me maybe"}, "phone"),
        ({"email": unique_email(), "linkedinUrl": "linkedin dot com"}, "linkedinUrl"),
        ({"email": unique_email(), "linkedinUrl": "ftp://example.com/x"}, "linkedinUrl"),
        ({"email": unique_email(), "favouriteColour": "blue"}, "favouriteColour"),
        ({"email": unique_email(), "priorityScore": 50}, "priorityScore"),
        ({"email": unique_email(), "status": "hot"}, "status"),
        ({"email": unique_email(), "relationshipStage": "married"}, "relationshipStage"),
        ({"email": unique_email(), "firstName": "x" * 256}, "firstName"),
        ({"email": unique_email(), "ownerId": "not-a-uuid"}, "ownerId"),
    )
    for payload, field in cases:
        response = client.post(URL, json=payload, headers=tenant.user.headers)
        assert response.status_code == 422, (payload, response.text)
        body = response.json()
        assert body["success"] is False
        assert body["error"]["code"] == "VALIDATION_ERROR"
        assert body["error"]["details"]["field"] == field, (payload, body)


def test_duplicate_email_is_409_case_insensitive(client, tenant):
    email = unique_email("dup")
    _create(client, tenant.user, email=email)
    response = client.post(URL, json={"email": email.upper()}, headers=tenant.admin.headers)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "DUPLICATE_EMAIL" and error["details"]["field"] == "email"


def test_same_email_is_allowed_in_another_organization(client, tenant, other_tenant):
    email = unique_email("shared")
    _create(client, tenant.user, email=email)
    _create(client, other_tenant.user, email=email)


def test_put_changes_only_the_fields_sent(client, tenant):
    body = _create(client, tenant.user, firstName="Grace", lastName="Hopper", title="Rear Admiral",
                   company="Navy", phone="+1 415 555 2671")
    response = client.put(f"{URL}/{body['id']}", json={"title": "Computer Scientist", "company": None},
                          headers=tenant.user.headers)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["title"] == "Computer Scientist"
    assert updated["company"] is None
    for unchanged in ("firstName", "lastName", "phone", "email", "status", "ownerId", "createdAt"):
        assert updated[unchanged] == body[unchanged], unchanged
    assert updated["updatedAt"] >= body["updatedAt"]
    assert client.get(f"{URL}/{body['id']}", headers=tenant.user.headers).json() == updated


def test_put_ignores_null_for_required_fields_and_validates(client, tenant):
    body = _create(client, tenant.user)
    same = client.put(f"{URL}/{body['id']}", json={"email": None, "status": None},
                      headers=tenant.user.headers)
    assert same.status_code == 200
    assert same.json()["email"] == body["email"] and same.json()["status"] == "new"
    for payload, field in (({"phone": "nope"}, "phone"), ({"email": "bad"}, "email"), ({"id": "x"}, "id"),
                           ({"status": "gone"}, "status")):
        response = client.put(f"{URL}/{body['id']}", json=payload, headers=tenant.user.headers)
        assert response.status_code == 422, payload
        assert response.json()["error"]["details"]["field"] == field


def test_put_to_an_email_already_taken_is_409(client, tenant):
    first = _create(client, tenant.user)
    second = _create(client, tenant.user)
    response = client.put(f"{URL}/{second['id']}", json={"email": first["email"]},
                          headers=tenant.user.headers)
    assert response.status_code == 409
    renamed = client.put(f"{URL}/{second['id']}", json={"email": second["email"]},
                         headers=tenant.user.headers)
    assert renamed.status_code == 200


def test_status_change_records_an_activity(client, tenant):
    body = _create(client, tenant.user)
    client.put(f"{URL}/{body['id']}", json={"title": "CTO"}, headers=tenant.user.headers)
    assert client.get(f"{URL}/{body['id']}/activities", headers=tenant.user.headers).json()["data"] == []
    response = client.put(f"{URL}/{body['id']}", json={"status": "contacted"}, headers=tenant.user.headers)
    assert response.json()["status"] == "contacted"
    client.put(f"{URL}/{body['id']}", json={"status": "contacted"}, headers=tenant.user.headers)
    # The timeline is a subscriber of prospect.updated: nothing until the worker delivers, then exactly one entry
    # (the title change and the no-op second PUT leave none), and delivering again adds nothing.
    assert tenant.deliver_events().delivered >= 2
    tenant.deliver_events()
    timeline = client.get(f"{URL}/{body['id']}/activities", headers=tenant.user.headers).json()
    assert timeline["pagination"]["total"] == 1
    activity = timeline["data"][0]
    assert activity["type"] == "status_change"
    assert activity["prospectId"] == body["id"]
    assert activity["metadata"].pop("eventId")
    assert activity["metadata"] == {"field": "status", "from": "new", "to": "contacted"}
    assert activity["userId"] == str(tenant.user.id)  # who changed it


def test_delete_then_404(client, tenant):
    body = _create(client, tenant.user)
    client.put(f"{URL}/{body['id']}", json={"status": "engaged"}, headers=tenant.user.headers)
    response = client.delete(f"{URL}/{body['id']}", headers=tenant.user.headers)
    assert response.status_code == 204 and response.content == b""
    for method in ("GET", "PUT", "DELETE"):
        kwargs = {"json": {"title": "x"}} if method == "PUT" else {}
        gone = client.request(method, f"{URL}/{body['id']}", headers=tenant.user.headers, **kwargs)
        assert gone.status_code == 404, method
        assert gone.json()["error"] == {"code": "NOT_FOUND", "message": "prospect not found",
                                        "details": {"resource": "prospect", "id": body["id"]}}
    assert client.get(f"{URL}/{body['id']}/activities", headers=tenant.user.headers).status_code == 404
    assert client.get(f"{URL}/{body['id']}/insights", headers=tenant.user.headers).status_code == 404
    # the email is free again
    _create(client, tenant.user, email=body["email"])


def test_viewer_reads_but_never_writes(client, tenant):
    body = _create(client, tenant.user)
    headers = tenant.viewer.headers
    assert client.get(URL, headers=headers).status_code == 200
    assert client.get(f"{URL}/export", headers=headers).status_code == 200
    assert client.get(f"{URL}/{body['id']}/insights", headers=headers).status_code == 200
    for method, path, kwargs in (
        ("POST", URL, {"json": {"email": unique_email()}}),
        ("PUT", f"{URL}/{body['id']}", {"json": {"title": "x"}}),
        ("DELETE", f"{URL}/{body['id']}", {}),
        ("POST", f"{URL}/import", {"files": {"file": ("p.csv", b"email\nx@example.com\n", "text/csv")}}),
    ):
        response = client.request(method, path, headers=headers, **kwargs)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "INSUFFICIENT_ROLE"


def test_unauthenticated_calls_are_refused_on_every_endpoint(client, tenant):
    body = _create(client, tenant.user)
    for method, path in (("GET", URL), ("POST", URL), ("GET", f"{URL}/export"), ("POST", f"{URL}/import"),
                         ("GET", f"{URL}/{body['id']}"), ("PUT", f"{URL}/{body['id']}"),
                         ("DELETE", f"{URL}/{body['id']}"), ("GET", f"{URL}/{body['id']}/activities"),
                         ("GET", f"{URL}/{body['id']}/insights")):
        response = client.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_idempotency_key_replays_the_first_response(client, tenant, owner_session):
    headers = {**tenant.user.headers, "Idempotency-Key": f"create-{uuid.uuid4().hex}"}
    payload = {"email": unique_email("idem"), "firstName": "Once"}
    first = client.post(URL, json=payload, headers=headers)
    second = client.post(URL, json=payload, headers=headers)
    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    count = owner_session.scalar(select(func.count()).select_from(Prospect).where(
        Prospect.organization_id == tenant.organization_id, Prospect.email == payload["email"]))
    assert count == 1
    reused = client.post(URL, json={**payload, "firstName": "Twice"}, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    # keys belong to the caller: another user may use the same key for their own request
    other = client.post(URL, json={"email": unique_email("idem")},
                        headers={**tenant.admin.headers, "Idempotency-Key": headers["Idempotency-Key"]})
    assert other.status_code == 201 and "Idempotent-Replayed" not in other.headers


def test_failed_create_does_not_burn_the_idempotency_key(client, tenant):
    taken = _create(client, tenant.user)
    headers = {**tenant.user.headers, "Idempotency-Key": uuid.uuid4().hex}
    assert client.post(URL, json={"email": taken["email"]}, headers=headers).status_code == 409
    assert client.post(URL, json={"email": taken["email"]}, headers=headers).status_code == 409


def test_overlong_idempotency_key_is_refused(client, tenant):
    response = client.post(URL, json={"email": unique_email()},
                           headers={**tenant.user.headers, "Idempotency-Key": "k" * 256})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "Idempotency-Key"

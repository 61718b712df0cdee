"""Prospect CRUD through the API: camelCase payloads, validation, roles."""

from __future__ import annotations

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

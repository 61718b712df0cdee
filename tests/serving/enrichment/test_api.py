"""/api/v1/enrichment: provider settings (admins; keys never returned), enriching a prospect against the fake
vendors, the request log with filters, usage — and another organization sees none of it."""
from __future__ import annotations

from fastapi.testclient import TestClient

from serving.main import create_app
from serving.prospects.models import Prospect
from tests.factories import make_tenant
from tests.serving.enrichment.vendor_fakes import APOLLO, PATHS

BASE = "/api/v1/enrichment"


def test_providers_enrich_requests_usage_and_tenancy(settings, vendor):
    handler, urls = vendor
    handler.answers = {PATHS["apollo"]: (200, APOLLO), PATHS["pdl"]: (401, {"error": {"type": "invalid_auth"}})}
    cfg = settings.model_copy(update={f"{name}_base_url": url for name, url in urls.items()})
    tenant, other = make_tenant(settings), make_tenant(settings)
    prospect = tenant.add(Prospect, email="ada@acme.io", first_name="Ada", last_name="Lovelace")
    admin, user, stranger = tenant.admin.headers, tenant.user.headers, other.admin.headers
    with TestClient(create_app(cfg)) as client:
        put = client.put(f"{BASE}/providers/apollo", headers=admin,
                         json={"apiKey": "apollo-key-7777", "priority": 2, "costCentsPerRequest": 3})
        assert put.status_code == 200, put.text
        assert put.json()["keyHint"] == "…7777" and "apiKey" not in put.json()
        assert client.put(f"{BASE}/providers/pdl", headers=admin, json={"apiKey": "wrong", "priority": 1}
                          ).status_code == 200
        denied = client.put(f"{BASE}/providers/apollo", headers=user, json={"apiKey": "x"})
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "INSUFFICIENT_ROLE"
        unknown = client.put(f"{BASE}/providers/crystal-ball", headers=admin, json={})
        assert unknown.status_code == 422
        listed = client.get(f"{BASE}/providers", headers=user).json()["data"]
        assert [(p["provider"], p["keyHint"]) for p in listed] == [("pdl", "…rong"), ("apollo", "…7777")]
        assert "apollo-key-7777" not in client.get(f"{BASE}/providers", headers=admin).text

        bad_field = client.post(f"{BASE}/prospects/{prospect.id}", headers=user, json={"fields": ["shoe_size"]})
        assert bad_field.status_code == 422 and bad_field.json()["error"]["code"] == "UNKNOWN_FIELD"
        enriched = client.post(f"{BASE}/prospects/{prospect.id}", headers=user, json={"fields": ["title", "phone"]})
        assert enriched.status_code == 200, enriched.text
        body = enriched.json()
        assert body["enrichmentData"]["title"]["value"] == "Head of Engineering"
        assert body["enrichmentData"]["phone"]["source"] == "apollo"
        assert [(r["provider"], r["status"]) for r in body["requests"]] == [("pdl", "bad_key"), ("apollo", "ok")]
        shown = client.get(f"/api/v1/prospects/{prospect.id}", headers=user).json()
        assert shown["enrichmentData"]["title"]["value"] == "Head of Engineering"

        page = client.get(f"{BASE}/requests", headers=user, params={"status": "bad_key"}).json()
        assert page["pagination"]["total"] == 1 and page["data"][0]["provider"] == "pdl"
        assert client.get(f"{BASE}/requests", headers=user, params={"prospectId": str(prospect.id)}
                          ).json()["pagination"]["total"] == 2
        assert client.get(f"{BASE}/requests", headers=user, params={"status": "nonsense"}).status_code == 422
        usage = {row["provider"]: row for row in client.get(f"{BASE}/usage", headers=user).json()["data"]}
        assert usage["apollo"]["costCents"] == 3 and usage["apollo"]["matches"] == 1
        assert usage["pdl"]["costCents"] == 0 and usage["pdl"]["matches"] == 0

        # another organization: nothing to see, the prospect is not found
        assert client.get(f"{BASE}/providers", headers=stranger).json()["data"] == []
        assert client.get(f"{BASE}/requests", headers=stranger).json()["pagination"]["total"] == 0
        assert client.get(f"{BASE}/usage", headers=stranger).json()["data"] == []
        assert client.post(f"{BASE}/prospects/{prospect.id}", headers=stranger).status_code == 404
        # no provider of its own yet: a clear error, not a 5xx
        own = other.add(Prospect, email="bob@beta.example")
        none = client.post(f"{BASE}/prospects/{own.id}", headers=stranger)
        assert none.status_code == 422 and none.json()["error"]["code"] == "NO_PROVIDERS"
        assert client.get(f"{BASE}/providers").status_code == 401

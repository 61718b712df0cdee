"""Segment-style tracking endpoints and the signed SendGrid Event Webhook land rows in `raw`."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from pipelines.ingest.ledger import psycopg_conninfo
from serving.main import create_app
from tests.conftest import make_settings
from tests.factories import make_tenant

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SEGMENT = json.loads((FIXTURES / "segment/http_tracking_api_examples.json").read_text())
VECTOR_FILE = FIXTURES / "sendgrid/signed_event_webhook_vectors.json"
VECTORS = {c["name"]: c for c in json.loads(VECTOR_FILE.read_text())["cases"]}


@pytest.fixture
def intake(fresh_database, tmp_path):
    """A fresh database (exact row counts), the app, a tenant and an events:write key."""
    def build(**overrides):
        settings = make_settings(fresh_database, tmp_path, **overrides)
        tenant = make_tenant(settings)
        client = TestClient(create_app(settings))
        response = client.post("/api/v1/api-keys", headers=tenant.admin.headers,
                               json={"name": "site", "scopes": ["events:write"]})
        assert response.status_code in (200, 201), response.text
        body = response.json()
        body = body.get("data", body)
        key = next(v for v in body.values() if isinstance(v, str) and v.startswith("sk_live_") and len(v) > 20)
        return client, tenant, key

    def count(table: str) -> int:
        with psycopg.connect(psycopg_conninfo(fresh_database)) as conn:
            return conn.execute(f"select count(*) from raw.{table}").fetchone()[0]

    return build, count


def test_segment_fixture_shapes_are_accepted_with_each_auth_style(intake):
    build, count = intake
    client, _, key = build()
    basic = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    for endpoint in ("identify", "track", "page"):
        body = {**SEGMENT[endpoint]["body"], "writeKey": key}
        response = client.post(f"/api/v1/events/{endpoint}", json=body)
        assert response.status_code == 200 and response.json() == {"success": True}, response.text
    assert client.post("/api/v1/events/track", json=SEGMENT["track"]["body"], headers=basic).status_code == 200
    response = client.post("/api/v1/events/page", json=SEGMENT["page"]["body"], headers={"X-API-Key": key})
    assert response.status_code == 200
    # the same content again is de-duplicated (derived messageId)
    assert count("website_events") == 3
    # the doc's batch carries two invalid timestamps ("2015-2-02…"): 200, two stored, two quarantined
    response = client.post("/api/v1/events/batch", json={**SEGMENT["batch"]["body"], "writeKey": key})
    assert response.status_code == 200
    assert count("website_events") == 5 and count("rejected_records") == 2


def test_segment_rejects_invalid_json_oversized_and_bad_keys(intake):
    build, count = intake
    client, _, key = build()
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    assert client.post("/api/v1/events/track", content=b"{not json", headers=headers).status_code == 400
    big = {"userId": "u", "event": "Big", "properties": {"blob": "x" * 40_000}}
    response = client.post("/api/v1/events/track", json=big, headers={"X-API-Key": key})
    assert response.status_code == 400 and response.json()["success"] is False
    assert client.post("/api/v1/events/track", json={"userId": "u", "event": "E"}).status_code == 401
    assert client.post("/api/v1/events/track", json={"userId": "u", "event": "E", "writeKey": "sk_live_nope"}
                       ).status_code == 401
    assert count("website_events") == 0


def test_sendgrid_webhook_verifies_signatures(intake):
    build, count = intake
    valid = VECTORS["valid"]
    client, _, _ = build(SENDGRID_WEBHOOK_VERIFICATION_KEY=valid["public_key"])
    url = "/api/v1/emails/webhook/sendgrid"

    def post(case, signature=None, timestamp=None):
        headers = {"X-Twilio-Email-Event-Webhook-Signature": signature or case["signature"],
                   "X-Twilio-Email-Event-Webhook-Timestamp": timestamp or case["timestamp"],
                   "Content-Type": "application/json"}
        return client.post(url, content=case["payload"].encode(), headers=headers)

    for name in ("bad_payload", "bad_signature"):
        assert post(VECTORS[name]).status_code == 403, name
    assert post(valid, timestamp="1600112503").status_code == 403
    assert client.post(url, content=valid["payload"].encode()).status_code == 403  # no signature at all
    assert count("email_events") == 0 and count("rejected_records") == 0
    response = post(valid)
    assert response.status_code == 200 and response.json() == {"success": True}
    assert count("email_events") == 1
    assert post(valid).status_code == 200 and count("email_events") == 1  # sg_event_id dedup


def test_a_message_postgres_cannot_store_is_quarantined_and_the_rest_of_the_batch_lands(intake):
    """One event with `\\u0000` in a property used to fail the whole batch (jsonb refuses it)."""
    build, count = intake
    client, _, key = build()
    good = {"type": "track", "userId": "u1", "event": "Signed Up", "messageId": "m-good"}
    bad = {"type": "track", "userId": "u1", "event": "Viewed", "messageId": "m-bad", "properties": {"q": "a\x00b"}}
    response = client.post("/api/v1/events/batch", json={"batch": [good, bad], "writeKey": key})
    assert response.status_code == 200, response.text
    assert count("website_events") == 1 and count("rejected_records") == 1
    lone_surrogate = json.dumps([{"email": "a@example.com", "event": "open\udfff", "timestamp": 1700000000,
                                  "sg_event_id": "e1", "sg_message_id": "m1"}])  # `json=` cannot encode it
    response = client.post("/api/v1/emails/webhook/sendgrid", content=lone_surrogate,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert count("rejected_records") == 2

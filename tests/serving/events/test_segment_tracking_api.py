"""Segment's HTTP Tracking API at the host root (`/v1/*`), driven by Segment's own Python library from PyPI.

The library posts `{host}/v1/batch` with HTTP Basic auth (the write key as user name) from its own
thread; the rows it sends are read back from `raw.website_events` with the owner connection.
"""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from segment.analytics import Client
from segment.analytics.request import APIError
from sqlalchemy import text

from tests.live_server import live_server


@pytest.fixture(scope="module")
def host(app):
    with live_server(app) as base_url:
        yield base_url


def _write_key(client, tenant, scopes=("events:write",)) -> str:
    response = client.post("/api/v1/api-keys", headers=tenant.admin.headers,
                           json={"name": "segment", "scopes": list(scopes)})
    assert response.status_code == 201, response.text
    body = response.json()
    body = body.get("data", body)
    return next(v for v in body.values() if isinstance(v, str) and v.startswith("sk_live_") and len(v) > 20)


def _rows(owner_session, message_ids) -> dict[str, dict]:
    owner_session.rollback()  # a fresh snapshot: the server committed after this session last read
    result = owner_session.execute(
        text("select * from raw.website_events where message_id = any(:ids)"), {"ids": list(message_ids)}
    )
    return {row["message_id"]: dict(row) for row in result.mappings()}


def _basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def test_official_client_sends_every_call_type_to_the_host_root(host, client, tenant, other_tenant,
                                                                  owner_session):
    key = _write_key(client, tenant)
    analytics = Client(key, host=host, sync_mode=True, max_retries=0)
    sent = {
        "identify": analytics.identify("user-42", {"email": "Ada@Example.com", "plan": "pro"},
                                       anonymous_id="anon-1"),
        "track": analytics.track("user-42", "Demo Requested", {"source": "pricing", "seats": 12}),
        "page": analytics.page(anonymous_id="anon-1", category="Docs", name="Pricing",
                               properties={"url": "https://example.test/pricing", "path": "/pricing"}),
        "screen": analytics.screen("user-42", name="Dashboard", properties={"tab": "pipeline"}),
        "group": analytics.group("user-42", "acct-7", {"name": "Acme", "employees": 250}),
        "alias": analytics.alias("anon-1", "user-42"),
    }
    assert all(ok for ok, _ in sent.values())
    ids = {kind: msg["messageId"] for kind, (_, msg) in sent.items()}
    rows = _rows(owner_session, ids.values())
    assert set(rows) == set(ids.values())
    org = tenant.organization_id
    for kind, message_id in ids.items():
        row = rows[message_id]
        assert row["type"] == kind
        assert str(row["organization_id"]) == str(org)
        assert row["context"]["library"]["name"] == "analytics-python"
        assert row["sent_at"] is not None and row["received_at"] is not None
    identify, track = rows[ids["identify"]], rows[ids["track"]]
    assert (identify["user_id"], identify["anonymous_id"]) == ("user-42", "anon-1")
    assert identify["traits"] == {"email": "Ada@Example.com", "plan": "pro"}
    assert identify["email"] == "ada@example.com"
    assert (track["event"], track["properties"]) == ("Demo Requested", {"source": "pricing", "seats": 12})
    page = rows[ids["page"]]
    assert page["anonymous_id"] == "anon-1" and page["user_id"] is None
    assert (page["url"], page["path"], page["properties"]["name"]) == (
        "https://example.test/pricing", "/pricing", "Pricing")
    assert page["properties"]["category"] == "Docs"
    assert rows[ids["screen"]]["properties"] == {"tab": "pipeline", "name": "Dashboard"}
    group = rows[ids["group"]]
    assert group["properties"] == {"groupId": "acct-7"} and group["traits"] == {"name": "Acme", "employees": 250}
    alias = rows[ids["alias"]]
    assert (alias["user_id"], alias["properties"]) == ("user-42", {"previousId": "anon-1"})
    # the same messageId again is de-duplicated, not stored twice
    again = Client(key, host=host, sync_mode=True, max_retries=0)
    again.track("user-42", "Demo Requested", {"source": "pricing", "seats": 12}, message_id=ids["track"])
    owner_session.rollback()
    assert owner_session.execute(text("select count(*) from raw.website_events where message_id = :m"),
                                 {"m": ids["track"]}).scalar_one() == 1
    # another organization's key lands nothing in this one
    other_key = _write_key(client, other_tenant)
    _, other = Client(other_key, host=host, sync_mode=True, max_retries=0).track("user-42", "Elsewhere")
    other_row = _rows(owner_session, [other["messageId"]])[other["messageId"]]
    assert str(other_row["organization_id"]) != str(org)


def test_official_client_batches_from_its_thread_and_gzips(host, client, tenant, owner_session):
    key = _write_key(client, tenant)
    batched = Client(key, host=host, gzip=True, upload_size=10, max_retries=0)
    try:
        messages = [batched.track(f"user-{n}", "Trial Started", {"n": n})[1] for n in range(25)]
        batched.flush()
    finally:
        batched.join()
    rows = _rows(owner_session, [m["messageId"] for m in messages])
    assert sorted(row["properties"]["n"] for row in rows.values()) == list(range(25))
    assert {row["event"] for row in rows.values()} == {"Trial Started"}


def test_wrong_write_key_is_a_401_envelope(host, client, tenant):
    with pytest.raises(APIError) as raised:
        Client("sk_live_not-a-key", host=host, sync_mode=True, max_retries=0).track("u", "E")
    assert raised.value.status == 401
    response = requests.post(f"{host}/v1/track", json={"userId": "u", "event": "E"},
                             headers=_basic("sk_live_not-a-key"), timeout=10)
    body = response.json()
    assert response.status_code == 401 and body["success"] is False
    assert set(body["error"]) >= {"code", "message", "details"}
    missing = requests.post(f"{host}/v1/batch", json={"batch": []}, timeout=10)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "WRITE_KEY_REQUIRED"
    # a key without events:write is refused too
    reader = _write_key(client, tenant, scopes=("prospects:read",))
    response = requests.post(f"{host}/v1/track", json={"userId": "u", "event": "E"}, headers=_basic(reader),
                             timeout=10)
    assert response.status_code == 403 and response.json()["error"]["code"] == "INSUFFICIENT_SCOPE"


@pytest.mark.parametrize("kind", ["identify", "track", "page", "screen", "group", "alias"])
def test_each_call_endpoint_at_the_root_and_under_api_v1(client, tenant, owner_session, kind):
    key = _write_key(client, tenant)
    extra = {"track": {"event": "Clicked"}, "group": {"groupId": "g-1"}, "alias": {"previousId": "anon-9"},
             "screen": {"name": "Home"}, "page": {"name": "Home"}, "identify": {"traits": {"plan": "free"}}}[kind]
    ids = []
    for path in (f"/v1/{kind}", f"/api/v1/events/{kind}"):
        message_id = f"{kind}-{uuid.uuid4()}"
        body = {"userId": "user-1", "messageId": message_id, "timestamp": "2026-01-02T03:04:05.678Z", **extra}
        response = client.post(path, json=body, headers=_basic(key))
        assert response.status_code == 200 and response.json() == {"success": True}, response.text
        ids.append(message_id)
    rows = _rows(owner_session, ids)
    assert {row["type"] for row in rows.values()} == {kind} and len(rows) == 2
    assert all(row["occurred_at"].isoformat() == "2026-01-02T03:04:05.678000+00:00" for row in rows.values())


def test_group_and_alias_without_their_ids_are_quarantined(client, tenant, owner_session):
    key = _write_key(client, tenant)
    good = f"ok-{uuid.uuid4()}"
    batch = {"batch": [{"type": "group", "userId": "u", "messageId": f"g-{uuid.uuid4()}"},
                       {"type": "alias", "userId": "u", "messageId": f"a-{uuid.uuid4()}"},
                       {"type": "track", "userId": "u", "event": "Kept", "messageId": good}]}
    response = client.post("/v1/batch", json=batch, headers=_basic(key))
    assert response.status_code == 200
    assert set(_rows(owner_session, [m["messageId"] for m in batch["batch"]])) == {good}
    reasons = owner_session.execute(
        text("select reason from raw.rejected_records where request_id = :r order by byte_offset"),
        {"r": response.headers["x-request-id"]},
    ).scalars().all()
    assert reasons == ["group requires a groupId", "alias requires a previousId"]


def test_gzip_bodies_and_their_limits(client, tenant, owner_session):
    key = _write_key(client, tenant)
    headers = {**_basic(key), "Content-Type": "application/json", "Content-Encoding": "gzip"}
    message_id = f"gz-{uuid.uuid4()}"
    body = gzip.compress(json.dumps({"userId": "u", "event": "Zipped", "messageId": message_id}).encode())
    response = client.post("/v1/track", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert _rows(owner_session, [message_id])[message_id]["event"] == "Zipped"
    # not gzip at all, truncated, or inflating past 500 KB: a clear 400, nothing stored
    for bad, code in ((b"{not gzip", "INVALID_ENCODING"), (body[: len(body) // 2], "INVALID_ENCODING"),
                      (gzip.compress(b" " * (600 * 1024)), "PAYLOAD_TOO_LARGE")):
        response = client.post("/v1/batch", content=bad, headers=headers)
        assert response.status_code == 400 and response.json()["error"]["code"] == code, response.text
    response = client.post("/v1/track", content=b"{}", headers={**headers, "Content-Encoding": "br"})
    assert response.status_code == 415 and response.json()["error"]["code"] == "UNSUPPORTED_ENCODING"


def test_a_message_over_32_kb_inside_a_batch_is_quarantined_alone(client, tenant, owner_session):
    key = _write_key(client, tenant)
    small, big = f"s-{uuid.uuid4()}", f"b-{uuid.uuid4()}"
    batch = {"batch": [{"type": "track", "userId": "u", "event": "Small", "messageId": small},
                       {"type": "track", "userId": "u", "event": "Big", "messageId": big,
                        "properties": {"blob": "x" * 40_000}}]}
    response = client.post("/v1/batch", json=batch, headers=_basic(key))
    assert response.status_code == 200
    assert set(_rows(owner_session, [small, big])) == {small}


def test_device_clock_skew_is_corrected_from_sent_at(client, tenant, owner_session):
    """analytics.js and RudderStack's SDKs send the device's `originalTimestamp` and `sentAt`, no `timestamp`."""
    key = _write_key(client, tenant)
    ahead = datetime.now(UTC) + timedelta(hours=3)  # the device's clock runs three hours fast
    skewed, given = f"skew-{uuid.uuid4()}", f"given-{uuid.uuid4()}"
    batch = {"sentAt": ahead.isoformat(), "batch": [
        {"type": "track", "userId": "u", "event": "Skewed", "messageId": skewed,
         "originalTimestamp": (ahead - timedelta(seconds=40)).isoformat()},
        # a sender's own `timestamp` (server-side libraries, historical imports) is kept as given
        {"type": "track", "userId": "u", "event": "Given", "messageId": given,
         "timestamp": "2026-01-02T03:04:05Z", "originalTimestamp": ahead.isoformat()},
    ]}
    before = datetime.now(UTC)
    assert client.post("/v1/batch", json=batch, headers=_basic(key)).status_code == 200
    rows = _rows(owner_session, [skewed, given])
    row = rows[skewed]
    assert row["received_at"] - row["occurred_at"] == timedelta(seconds=40)
    assert before - timedelta(seconds=41) <= row["occurred_at"] <= datetime.now(UTC)
    assert row["sent_at"] == ahead
    assert rows[given]["occurred_at"] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

"""Calendly against a local fake speaking its documented JSON (API v2): installed with a personal access token,
checked with /users/me, a webhook subscription created with our signing key; then Calendly's signed webhooks —
`invitee.created` books a meeting on the prospect's timeline (a new person becomes a prospect) with the
`meeting.scheduled` event, once however often it is delivered; `invitee.canceled` notes the cancellation; a bad or
stale signature and another organization's id are refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from serving.main import create_app
from tests.conftest import make_settings
from tests.local_http import QuietHandler

URL = "/api/v1/integrations"


class FakeCalendly(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.subscriptions: list[dict] = []


class _Handler(QuietHandler):
    server: FakeCalendly

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") != "Bearer cal-good":
            self.send_json(401, {"title": "Unauthenticated", "message": "The access token is invalid"})
            return False
        return True

    def do_GET(self) -> None:
        if self._authorized() and self.path == "/users/me":
            self.send_json(200, {"resource": {"uri": "https://api.calendly.com/users/AAAA",
                                              "current_organization": "https://api.calendly.com/organizations/BBBB",
                                              "name": "Ada Rep"}})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self._authorized() and self.path == "/webhook_subscriptions":
            self.server.subscriptions.append(body)
            self.send_json(201, {"resource": {"uri": "https://api.calendly.com/webhook_subscriptions/CCCC",
                                              "callback_url": body["url"], "events": body["events"],
                                              "scope": body["scope"], "state": "active"}})


@pytest.fixture(scope="module")
def calendly() -> Iterator[FakeCalendly]:
    server = FakeCalendly()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def client(settings, calendly) -> Iterator[TestClient]:
    providers = {"calendly": {"baseUrl": f"http://127.0.0.1:{calendly.server_address[1]}"}}
    with TestClient(create_app(make_settings(settings.owner_database_url, settings.home,
                                             INTEGRATION_PROVIDERS=providers))) as test_client:
        yield test_client


def _installed(client, tenant, calendly) -> tuple[str, str]:
    refused = client.post(f"{URL}/install", json={"provider": "calendly", "apiKey": "cal-bad"},
                          headers=tenant.admin.headers)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "INTEGRATION_CHECK_FAILED"
    done = client.post(f"{URL}/install", json={"provider": "calendly", "apiKey": "cal-good"},
                       headers=tenant.admin.headers)
    assert done.status_code == 201, done.text
    integration = done.json()["integration"]
    assert integration["status"] == "connected" and "signingKey" not in integration["config"]
    subscription = calendly.subscriptions[-1]
    assert subscription["url"].endswith(f"/api/v1/integrations/calendly/webhook/{integration['id']}")
    assert subscription["events"] == ["invitee.created", "invitee.canceled"] and subscription["scope"] == "user"
    return integration["id"], subscription["signing_key"]


def _event(kind: str, email: str, uri: str) -> bytes:
    return json.dumps({"event": kind, "created_at": "2026-12-05T10:00:00.000000Z", "payload": {
        "email": email, "name": "Grace Hopper", "uri": uri, "status": "active" if kind == "invitee.created"
        else "canceled", "scheduled_event": {"name": "Intro call", "start_time": "2026-12-09T15:00:00.000000Z",
                                             "uri": "https://api.calendly.com/scheduled_events/EEEE"}}}).encode()


def _signed(key: str, body: bytes, at: int | None = None) -> dict[str, str]:
    t = str(at if at is not None else int(time.time()))
    v1 = hmac.new(key.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Calendly-Webhook-Signature": f"t={t},v1={v1}", "Content-Type": "application/json"}


def test_a_booking_lands_on_the_timeline_once_and_a_cancellation_is_noted(client, tenant, calendly, owner_session):
    integration_id, key = _installed(client, tenant, calendly)
    hook = f"{URL}/calendly/webhook/{integration_id}"
    email = f"grace.{uuid.uuid4().hex[:6]}@navy.example"
    invitee = f"https://api.calendly.com/scheduled_events/EEEE/invitees/{uuid.uuid4().hex}"
    booked = _event("invitee.created", email, invitee)
    first = client.post(hook, content=booked, headers=_signed(key, booked))
    assert first.status_code == 200 and first.json()["outcome"] == "booked", first.text
    assert client.post(hook, content=booked, headers=_signed(key, booked)).json()["outcome"] == "done_before"

    found = client.get("/api/v1/prospects", params={"q": email}, headers=tenant.user.headers).json()["data"]
    assert [(p["firstName"], p["lastName"], p["source"]) for p in found] == [("Grace", "Hopper", "calendly")]
    timeline = client.get("/api/v1/activities", params={"prospectId": found[0]["id"]},
                          headers=tenant.user.headers).json()["data"]
    assert [(a["type"], a["subject"]) for a in timeline] == [("meeting_scheduled", "Booked in Calendly: Intro call")]
    events = owner_session.execute(text("select count(*) from app.domain_events where organization_id = :o and "
                                        "type = 'meeting.scheduled'"), {"o": tenant.organization_id}).scalar_one()
    assert events == 1

    canceled = _event("invitee.canceled", email, invitee)
    assert client.post(hook, content=canceled, headers=_signed(key, canceled)).json()["outcome"] == "canceled"
    timeline = client.get("/api/v1/activities", params={"prospectId": found[0]["id"]},
                          headers=tenant.user.headers).json()["data"]
    assert {a["subject"] for a in timeline} >= {"Canceled in Calendly: Intro call"}


def test_unsigned_stale_forged_and_foreign_webhooks_are_refused(client, tenant, other_tenant, calendly):
    integration_id, key = _installed(client, tenant, calendly)
    hook = f"{URL}/calendly/webhook/{integration_id}"
    body = _event("invitee.created", "x@example.com", "https://api.calendly.com/invitees/1")
    for headers in ({"Content-Type": "application/json"}, _signed("not-the-key", body),
                    _signed(key, body, at=int(time.time()) - 600)):
        refused = client.post(hook, content=body, headers=headers)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "WEBHOOK_SIGNATURE_INVALID"
    tampered = client.post(hook, content=body.replace(b"x@example", b"y@example"), headers=_signed(key, body))
    assert tampered.status_code == 401
    unknown = client.post(f"{URL}/calendly/webhook/{uuid.uuid4()}", content=body, headers=_signed(key, body))
    assert unknown.status_code == 401
    assert client.get("/api/v1/prospects", params={"q": "x@example.com"},
                      headers=other_tenant.user.headers).json()["data"] == []
    garbage = b"not json"
    assert client.post(hook, content=garbage, headers=_signed(key, garbage)).status_code == 422

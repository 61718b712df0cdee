"""The integrations API against a local OAuth 2.0 authorization server (which checks the PKCE verifier against the
challenge, RFC 7636) and a local fake Slack: the marketplace says honestly what works; an OAuth install goes
provider → callback → sealed tokens → the connector's check → connected; the state is single use and expires; a
refusal or a bad code is a clear error; status, usage per day, settings, sync requests and uninstall; tenancy and
roles for every endpoint."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from serving.core.clock import utcnow
from serving.main import create_app
from tests.conftest import make_settings
from tests.local_http import serving
from tests.serving.integrations.crm_fakes import FakeCrm, HubSpotRoutes, handler_for
from tests.serving.integrations.test_slack import FakeSlack

URL = "/api/v1/integrations"


class AuthorizationServer(ThreadingHTTPServer):
    """RFC 6749 §4.1 token endpoint with RFC 7636 PKCE: a code is issued for a challenge (as the user's browser
    would get it at /authorize) and exchanged only with the matching verifier, the right client and redirect."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _AuthorizationHandler)
        self.codes: dict[str, tuple[str, str]] = {}  # code → (challenge, redirect_uri)
        self.exchanges: list[dict[str, str]] = []
        self.access_token = "xoxb-good"  # what the next exchange grants
        self.refreshed_token: str | None = None  # what a refresh grants (None: refreshes are refused)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def authorize(self, authorization_url: str) -> dict[str, str]:
        """What the provider's consent page does: validate the request and hand back a code for its challenge."""
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorization_url).query))
        assert query["response_type"] == "code" and query["client_id"] == "client-1"
        assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
        code = f"code-{len(self.codes)}"
        self.codes[code] = (query["code_challenge"], query["redirect_uri"])
        return {"state": query["state"], "code": code}


class _AuthorizationHandler(BaseHTTPRequestHandler):
    server: AuthorizationServer

    def do_POST(self) -> None:
        form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
        self.server.exchanges.append(form)
        if form.get("client_secret") != "secret-1":
            return self._json(400, {"error": "invalid_client"})
        if form.get("grant_type") == "refresh_token" and self.server.refreshed_token:
            if form.get("refresh_token") != "refresh-1":
                return self._json(400, {"error": "invalid_grant"})
            return self._json(200, {"access_token": self.server.refreshed_token, "token_type": "bearer",
                                    "expires_in": 3600})
        if form.get("grant_type") != "authorization_code":
            return self._json(400, {"error": "invalid_client"})
        challenge, redirect = self.server.codes.pop(form.get("code", ""), (None, None))
        verifier = form.get("code_verifier", "")
        computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge is None or computed != challenge or form.get("redirect_uri") != redirect:
            return self._json(400, {"error": "invalid_grant", "error_description": "bad code or verifier"})
        return self._json(200, {"access_token": self.server.access_token, "token_type": "bearer",
                                "refresh_token": "refresh-1",
                                "expires_in": 3600, "scope": "chat:write"})

    def _json(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


def _serve(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture(scope="module")
def vendors() -> Iterator[tuple[AuthorizationServer, FakeSlack]]:
    auth, slack = _serve(AuthorizationServer()), _serve(FakeSlack())
    yield auth, slack
    for server in (auth, slack):
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def hubspot() -> Iterator[FakeCrm]:
    fake = FakeCrm()
    with serving(handler_for(fake, HubSpotRoutes())) as server:
        fake.url = f"http://127.0.0.1:{server.server_port}"
        yield fake


@pytest.fixture(scope="module")
def client(settings, vendors, hubspot) -> Iterator[TestClient]:
    auth, slack = vendors
    app = {"clientId": "client-1", "clientSecret": "secret-1", "authorizeUrl": f"{auth.url}/authorize",
           "tokenUrl": f"{auth.url}/token"}
    providers = {"slack": {**app, "baseUrl": f"http://127.0.0.1:{slack.server_address[1]}/api"},
                 "hubspot": {**app, "baseUrl": hubspot.url}}
    configured = make_settings(settings.owner_database_url, settings.home,
                               INTEGRATION_PROVIDERS=providers)
    with TestClient(create_app(configured)) as test_client:
        yield test_client


def _install(client, tenant, **config) -> dict:
    response = client.post(f"{URL}/install", json={"provider": "slack", "config": {"channel": "C123", **config}},
                           headers=tenant.admin.headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_the_marketplace_says_what_works(client, tenant):
    page = client.get(f"{URL}/marketplace", params={"limit": 100}, headers=tenant.user.headers).json()
    items = {m["key"]: m for m in page["data"]}
    assert items["slack"]["status"] == "available" and items["slack"]["installedId"] is None
    assert items["pipedrive"]["status"] == "planned"
    # the enrichment vendors work, set up with the enrichment providers, not installed here
    assert items["clearbit"]["status"] == "available"
    assert items["clearbit"]["setupPath"] == "/api/v1/enrichment/providers/clearbit"
    refused = client.post(f"{URL}/install", json={"provider": "zoominfo", "apiKey": "k"},
                          headers=tenant.admin.headers)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "USE_ENRICHMENT_SETTINGS"
    assert refused.json()["error"]["details"]["setupPath"] == "/api/v1/enrichment/providers/zoominfo"
    crm = client.get(f"{URL}/marketplace", params={"category": "crm"}, headers=tenant.user.headers).json()
    assert {m["category"] for m in crm["data"]} == {"crm"}
    refused = client.post(f"{URL}/install", json={"provider": "pipedrive"}, headers=tenant.admin.headers)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "PROVIDER_UNAVAILABLE"


def test_an_oauth_install_with_pkce_connects_and_seals_the_tokens(client, tenant, vendors, owner_session):
    auth, _ = vendors
    started = _install(client, tenant)
    assert started["integration"]["status"] == "disconnected" and started["authorizationUrl"].startswith(auth.url)
    granted = auth.authorize(started["authorizationUrl"])

    done = client.get(f"{URL}/oauth/callback", params=granted)  # the provider's redirect: no session of ours
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "connected" and done.json()["config"] == {"channel": "C123", "events": []}
    exchange = auth.exchanges[-1]
    assert exchange["code_verifier"] and exchange["redirect_uri"].endswith("/api/v1/integrations/oauth/callback")
    sealed = owner_session.execute(text("select sealed_access_token, sealed_refresh_token, token_expires_at from "
                                        "app.team_integrations where id = :id"),
                                   {"id": started["integration"]["id"]}).one()
    assert "xoxb-good" not in sealed[0] and "refresh-1" not in sealed[1] and sealed[2] > utcnow()

    again = client.get(f"{URL}/oauth/callback", params=granted)  # single use
    assert again.status_code == 422 and again.json()["error"]["code"] == "OAUTH_STATE_INVALID"
    status = client.get(f"{URL}/{started['integration']['id']}/status", headers=tenant.user.headers).json()
    assert status["status"] == "connected" and status["authOk"] and status["callsLastDay"] == 1  # the check
    assert status["healthScore"] == 100
    usage = client.get(f"{URL}/{started['integration']['id']}/analytics", headers=tenant.user.headers).json()
    assert sum(d["calls"] for d in usage["days"]) == 1
    market = client.get(f"{URL}/marketplace", params={"limit": 100}, headers=tenant.user.headers).json()["data"]
    assert next(m for m in market if m["key"] == "slack")["installedId"] == started["integration"]["id"]
    dup = client.post(f"{URL}/install", json={"provider": "slack"}, headers=tenant.admin.headers)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "ALREADY_INSTALLED"


def test_refusals_bad_codes_and_expired_states_are_clear_errors(client, tenant, vendors, owner_session):
    auth, _ = vendors
    started = _install(client, tenant)
    denied = client.get(f"{URL}/oauth/callback", params={"state": auth.authorize(started["authorizationUrl"])["state"],
                                                          "error": "access_denied"})
    assert denied.status_code == 422 and denied.json()["error"]["code"] == "OAUTH_DENIED"

    started = _install(client, tenant)  # a new attempt: a new state
    granted = auth.authorize(started["authorizationUrl"])
    bad = client.get(f"{URL}/oauth/callback", params={**granted, "code": "not-a-code"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "OAUTH_EXCHANGE_FAILED"

    started = _install(client, tenant)
    granted = auth.authorize(started["authorizationUrl"])
    owner_session.execute(text("update app.team_integrations set config = jsonb_set(config, '{oauth,expiresAt}', "
                               "to_jsonb(cast(:past as text))) where id = :id"),
                          {"past": (utcnow() - timedelta(minutes=1)).isoformat(), "id": started["integration"]["id"]})
    owner_session.commit()
    expired = client.get(f"{URL}/oauth/callback", params=granted)
    assert expired.status_code == 422 and expired.json()["error"]["code"] == "OAUTH_STATE_EXPIRED"
    unknown = client.get(f"{URL}/oauth/callback", params={"state": "forged", "code": "x"})
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "OAUTH_STATE_INVALID"
    listed = client.get(URL, headers=tenant.user.headers).json()["data"]
    assert [i["status"] for i in listed] == ["disconnected"]  # nothing connected from any of these


def test_settings_sync_requests_and_uninstall(client, tenant, vendors):
    auth, _ = vendors
    started = _install(client, tenant)
    integration_id = started["integration"]["id"]
    assert client.get(f"{URL}/oauth/callback", params=auth.authorize(started["authorizationUrl"])).status_code == 200
    changed = client.put(f"{URL}/{integration_id}/settings", headers=tenant.admin.headers,
                         json={"config": {"channel": "C999", "events": ["deal.won"]}})
    assert changed.status_code == 200 and changed.json()["config"] == {"channel": "C999", "events": ["deal.won"]}
    too_often = client.put(f"{URL}/{integration_id}/settings", headers=tenant.admin.headers,
                           json={"config": {"syncIntervalMinutes": 1}})
    assert too_often.status_code == 422
    nothing = client.post(f"{URL}/{integration_id}/sync", headers=tenant.admin.headers)
    assert nothing.status_code == 422 and nothing.json()["error"]["code"] == "SYNC_UNSUPPORTED"  # Slack only posts
    assert client.get(f"{URL}/{integration_id}/sync-logs", headers=tenant.user.headers).json()["data"] == []

    assert client.delete(f"{URL}/{integration_id}", headers=tenant.user.headers).status_code == 403
    assert client.delete(f"{URL}/{integration_id}", headers=tenant.admin.headers).status_code == 204
    assert client.get(f"{URL}/{integration_id}/status", headers=tenant.admin.headers).status_code == 404


def test_tenancy_and_roles_for_every_endpoint(client, tenant, other_tenant, vendors):
    auth, _ = vendors
    started = _install(client, tenant)
    integration_id = started["integration"]["id"]
    o = other_tenant
    for method, path, body in (("GET", f"{URL}/{integration_id}/status", None),
                               ("GET", f"{URL}/{integration_id}/analytics", None),
                               ("GET", f"{URL}/{integration_id}/sync-logs", None),
                               ("PUT", f"{URL}/{integration_id}/settings", {"config": {}}),
                               ("POST", f"{URL}/{integration_id}/sync", None),
                               ("DELETE", f"{URL}/{integration_id}", None)):
        response = client.request(method, path, json=body, headers=o.admin.headers)
        assert response.status_code == 404, (method, path, response.text)
    assert client.get(URL, headers=o.user.headers).json()["data"] == []
    market = client.get(f"{URL}/marketplace", params={"limit": 100}, headers=o.user.headers).json()["data"]
    assert next(m for m in market if m["key"] == "slack")["installedId"] is None
    # another organization's callback with this organization's state connects this organization's install
    done = client.get(f"{URL}/oauth/callback", params=auth.authorize(started["authorizationUrl"]))
    assert done.json()["id"] == integration_id
    # members read, admins install and change
    assert client.get(URL, headers=tenant.viewer.headers).status_code == 200
    assert client.post(f"{URL}/install", json={"provider": "slack"}, headers=tenant.user.headers).status_code == 403
    assert client.put(f"{URL}/{integration_id}/settings", json={"config": {}},
                      headers=tenant.user.headers).status_code == 403


def test_slack_posts_the_chosen_domain_events_from_the_worker(client, tenant, vendors, settings):
    from serving.core import queue

    auth, slack = vendors
    started = _install(client, tenant)
    integration_id = started["integration"]["id"]
    assert client.get(f"{URL}/oauth/callback", params=auth.authorize(started["authorizationUrl"])).status_code == 200
    wrong = client.put(f"{URL}/{integration_id}/settings", headers=tenant.admin.headers,
                       json={"config": {"channel": "C123", "events": ["prospect.created"]}})
    assert wrong.status_code == 422  # not an event a channel is told about
    assert client.put(f"{URL}/{integration_id}/settings", headers=tenant.admin.headers,
                      json={"config": {"channel": "C123", "events": ["deal.won"]}}).status_code == 200
    deal = client.post("/api/v1/deals", json={"name": "Acme expansion", "amount": 42000},
                       headers=tenant.user.headers).json()
    client.put(f"/api/v1/deals/{deal['id']}", json={"stage": "proposal"}, headers=tenant.user.headers)
    won = client.put(f"/api/v1/deals/{deal['id']}", json={"stage": "closed_won"}, headers=tenant.user.headers)
    assert won.status_code == 200, won.text
    before = len(slack.posted)
    queue.configure(client.app.state.settings)  # the worker's runtime: its settings open the sealed token
    try:
        tenant.deliver_events()
    finally:
        queue._runtime = None
    posted = slack.posted[before:]
    assert len(posted) == 1  # deal.won only: the stage change to proposal was not chosen
    token, body = posted[0]
    assert token == "Bearer xoxb-good" and body["channel"] == "C123" and body["text"].startswith("*Deal won*")
    assert "42000" in body["text"]


def test_hubspot_installs_and_syncs_through_the_api_and_the_worker(client, tenant, vendors, hubspot, owner_session):
    from serving.core import queue
    from serving.integrations import jobs

    auth, _ = vendors
    hubspot.put("contacts", {"email": "grace@navy.example", "firstname": "Grace", "lastname": "Hopper",
                             "jobtitle": "Rear Admiral"})
    started = client.post(f"{URL}/install", json={"provider": "hubspot", "config": {"syncIntervalMinutes": 60}},
                          headers=tenant.admin.headers).json()
    auth.access_token = hubspot.token
    try:
        done = client.get(f"{URL}/oauth/callback", params=auth.authorize(started["authorizationUrl"]))
    finally:
        auth.access_token = "xoxb-good"
    assert done.status_code == 200 and done.json()["status"] == "connected", done.text
    integration_id = done.json()["id"]

    requested = client.post(f"{URL}/{integration_id}/sync", headers=tenant.admin.headers)
    assert requested.status_code == 202 and requested.json()["status"] == "running"
    again = client.post(f"{URL}/{integration_id}/sync", headers=tenant.admin.headers)
    assert again.json()["id"] == requested.json()["id"]  # one at a time
    job = owner_session.execute(text(
        "select args from procrastinate.procrastinate_jobs where task_name = 'integrations.sync' and status = 'todo' "
        "and args->>'integration_id' = :i"), {"i": integration_id}).scalar_one()
    queue.configure(client.app.state.settings)  # what the worker does at start
    try:
        assert jobs.sync(**job)["status"] == "succeeded"
    finally:
        queue._runtime = None
    [log] = client.get(f"{URL}/{integration_id}/sync-logs", headers=tenant.user.headers).json()["data"]
    assert log["status"] == "succeeded" and log["readCount"] >= 1 and log["createdCount"] >= 1
    found = client.get("/api/v1/prospects", params={"q": "grace@navy.example"}, headers=tenant.user.headers).json()
    assert [p["lastName"] for p in found["data"]] == ["Hopper"]
    status = client.get(f"{URL}/{integration_id}/status", headers=tenant.user.headers).json()
    assert status["lastSyncStatus"] == "succeeded" and status["lastSyncAt"] and status["callsLastDay"] >= 2
    # the scheduled sweep: not due within the hour, due after it
    queue.configure(client.app.state.settings)
    try:
        jobs.schedule(timestamp=0)
        logs = client.get(f"{URL}/{integration_id}/sync-logs", headers=tenant.user.headers).json()["data"]
        assert [entry["status"] for entry in logs] == ["succeeded"]  # synced just now: not due
        owner_session.execute(text("update app.team_integrations set last_sync_at = now() - interval '61 minutes' "
                                   "where id = :id"), {"id": integration_id})
        owner_session.commit()
        jobs.schedule(timestamp=0)
    finally:
        queue._runtime = None
    logs = client.get(f"{URL}/{integration_id}/sync-logs", headers=tenant.user.headers).json()["data"]
    assert [entry["status"] for entry in logs] == ["running", "succeeded"]

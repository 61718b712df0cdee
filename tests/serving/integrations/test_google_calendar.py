"""Google Calendar against a local fake of Calendar API v3 and the local OAuth 2.0 authorization server: installed
with OAuth (PKCE, offline access), checked on the primary calendar; the worker's sync reads events with Google's
incremental synchronization (a first read with timeMin, then the stored `nextSyncToken`; a `410 Gone` token is a
full read again) and puts meetings with prospects on their timelines — once, whatever is read again; a declined
invitation and a cancelled event are noted; colleagues, rooms and out-of-office blocks make no prospects."""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from serving.core import queue
from serving.integrations import jobs
from serving.main import create_app
from tests.conftest import make_settings
from tests.local_http import QuietHandler
from tests.serving.integrations.test_integrations_api import AuthorizationServer, _serve

URL = "/api/v1/integrations"
TOKEN = "ya29.calendar-token"


class FakeGoogleCalendar(ThreadingHTTPServer):
    """Events of the primary calendar with Google's sync semantics: a full list gives `nextSyncToken` on its last
    page; a list with `syncToken` gives only the events changed since that token; an invalidated token is 410."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.events: dict[str, dict] = {}
        self.version: dict[str, int] = {}
        self.clock = 0
        self.invalid_tokens: set[str] = set()
        self.failing = False  # full reads answer 503
        self.requests: list[dict[str, str]] = []

    def put(self, event: dict) -> None:
        self.clock += 1
        self.events[event["id"]] = event
        self.version[event["id"]] = self.clock


class _Handler(QuietHandler):
    server: FakeGoogleCalendar

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self.send_json(401, {"error": {"code": 401, "message": "Request had invalid authentication "
                                                  "credentials.", "status": "UNAUTHENTICATED"}})
        path, _, query = self.path.partition("?")
        params = dict(urllib.parse.parse_qsl(query))
        if path == "/calendar/v3/calendars/primary":
            return self.send_json(200, {"kind": "calendar#calendar", "id": "ada@seller.example",
                                        "summary": "ada@seller.example", "timeZone": "Europe/London"})
        if path != "/calendar/v3/calendars/primary/events":
            return self.send_json(404, {"error": {"code": 404, "message": "Not Found"}})
        self.server.requests.append(params)
        token = params.get("syncToken")
        if token in self.server.invalid_tokens:
            return self.send_json(410, {"error": {"code": 410, "message": "Sync token is no longer valid, a full "
                                                  "sync is required.", "errors": [{"reason": "fullSyncRequired"}]}})
        if not token and self.server.failing:
            return self.send_json(503, {"error": {"code": 503, "message": "Backend Error"}})
        since = int(token.removeprefix("sync-")) if token else 0
        changed = [e for i, e in self.server.events.items() if self.server.version[i] > since]
        if not token:
            assert params["timeMin"].endswith("Z")
            changed = [e for e in changed if e.get("status") != "cancelled"]
        offset = int(params.get("pageToken", "0"))
        page = changed[offset:offset + 2]  # small pages: the client must follow nextPageToken
        body: dict = {"kind": "calendar#events", "summary": "ada@seller.example", "items": page}
        if offset + 2 < len(changed):
            body["nextPageToken"] = str(offset + 2)
        else:
            body["nextSyncToken"] = f"sync-{self.server.clock}"
        self.send_json(200, body)


def _event(event_id: str, summary: str, attendees: list[dict], **extra) -> dict:
    return {"kind": "calendar#event", "id": event_id, "status": "confirmed", "summary": summary,
            "start": {"dateTime": "2026-12-10T15:00:00Z"}, "end": {"dateTime": "2026-12-10T15:30:00Z"},
            "organizer": {"email": "ada@seller.example", "self": True},
            "attendees": [{"email": "ada@seller.example", "self": True, "organizer": True,
                           "responseStatus": "accepted"}, *attendees], **extra}


@pytest.fixture(scope="module")
def google() -> Iterator[tuple[AuthorizationServer, FakeGoogleCalendar]]:
    auth, calendar = _serve(AuthorizationServer()), _serve(FakeGoogleCalendar())
    auth.access_token = TOKEN
    yield auth, calendar
    for server in (auth, calendar):
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def client(settings, google) -> Iterator[TestClient]:
    auth, calendar = google
    providers = {"google_calendar": {
        "clientId": "client-1", "clientSecret": "secret-1", "authorizeUrl": f"{auth.url}/authorize",
        "tokenUrl": f"{auth.url}/token", "baseUrl": f"http://127.0.0.1:{calendar.server_address[1]}"}}
    with TestClient(create_app(make_settings(settings.owner_database_url, settings.home,
                                             INTEGRATION_PROVIDERS=providers))) as test_client:
        yield test_client


def _sync(client, tenant, owner_session, integration_id: str) -> dict:
    requested = client.post(f"{URL}/{integration_id}/sync", headers=tenant.admin.headers)
    assert requested.status_code == 202, requested.text
    job = owner_session.execute(text(
        "select args from procrastinate.procrastinate_jobs where task_name = 'integrations.sync' and status = 'todo' "
        "and args->>'integration_id' = :i"), {"i": integration_id}).scalar_one()
    owner_session.execute(text("delete from procrastinate.procrastinate_jobs where task_name = 'integrations.sync' "
                               "and args->>'integration_id' = :i"), {"i": integration_id})
    owner_session.commit()
    queue.configure(client.app.state.settings)  # what the worker does at start
    try:
        jobs.sync(**job)
    finally:
        queue._runtime = None
    return client.get(f"{URL}/{integration_id}/sync-logs", headers=tenant.user.headers).json()["data"][0]


def _timeline(client, tenant, prospect_id: str) -> list[tuple[str, str]]:
    data = client.get("/api/v1/activities", params={"prospectId": prospect_id}, headers=tenant.user.headers)
    return sorted((a["type"], a["subject"]) for a in data.json()["data"])


def test_meetings_with_prospects_reach_their_timelines_incrementally(client, tenant, google, owner_session):
    auth, calendar = google
    tag = uuid.uuid4().hex[:6]
    grace = client.post("/api/v1/prospects", json={"email": f"grace.{tag}@navy.example", "firstName": "Grace"},
                        headers=tenant.user.headers).json()
    alan = client.post("/api/v1/prospects", json={"email": f"alan.{tag}@bletchley.example", "firstName": "Alan"},
                       headers=tenant.user.headers).json()
    calendar.put(_event(f"demo{tag}", "Product demo", [
        {"email": f"Grace.{tag}@navy.example", "responseStatus": "needsAction"},
        {"email": f"bob.{tag}@seller.example", "responseStatus": "accepted"},
        {"email": f"room.{tag}@resource.calendar.google.com", "resource": True, "responseStatus": "accepted"}]))
    calendar.put(_event(f"sync{tag}", "Team sync", [{"email": f"bob.{tag}@seller.example"}]))
    calendar.put(_event(f"ooo{tag}", "Out of office", [], eventType="outOfOffice"))
    calendar.put(_event(f"intro{tag}", "Intro", [{"email": f"alan.{tag}@bletchley.example",
                                                  "responseStatus": "accepted"}]))

    started = client.post(f"{URL}/install", json={"provider": "google_calendar",
                                                  "config": {"syncIntervalMinutes": 15}},
                          headers=tenant.admin.headers)
    assert started.status_code == 201, started.text
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(started.json()["authorizationUrl"]).query))
    assert query["access_type"] == "offline" and query["prompt"] == "consent"
    assert query["scope"] == "https://www.googleapis.com/auth/calendar.events.readonly"
    done = client.get(f"{URL}/oauth/callback", params=auth.authorize(started.json()["authorizationUrl"]))
    assert done.status_code == 200 and done.json()["status"] == "connected", done.text
    integration_id = done.json()["id"]

    first = _sync(client, tenant, owner_session, integration_id)
    assert first["status"] == "succeeded", first
    assert (first["readCount"], first["createdCount"], first["updatedCount"]) == (4, 2, 0)
    assert "syncToken" not in calendar.requests[-1] and "pageToken" in calendar.requests[-1]
    assert _timeline(client, tenant, grace["id"]) == [("meeting_scheduled", "Booked in Google Calendar: Product demo")]
    assert _timeline(client, tenant, alan["id"]) == [("meeting_scheduled", "Booked in Google Calendar: Intro")]
    colleagues = client.get("/api/v1/prospects", params={"q": f"bob.{tag}"}, headers=tenant.user.headers).json()
    assert colleagues["data"] == []  # a calendar is not a lead source
    published = owner_session.execute(text(
        "select count(*) from app.domain_events where organization_id = :o and type = 'meeting.scheduled'"),
        {"o": tenant.organization_id}).scalar_one()
    assert published == 2

    # incremental: Grace declines, the intro is cancelled (Google sends only its id and status), nothing else moves
    calendar.put(_event(f"demo{tag}", "Product demo", [
        {"email": f"grace.{tag}@navy.example", "responseStatus": "declined"}]))
    calendar.put({"kind": "calendar#event", "id": f"intro{tag}", "status": "cancelled"})
    second = _sync(client, tenant, owner_session, integration_id)
    assert calendar.requests[-1]["syncToken"].startswith("sync-") and "timeMin" not in calendar.requests[-1]
    assert (second["readCount"], second["createdCount"], second["updatedCount"]) == (2, 0, 2)
    assert ("note_added", "Canceled in Google Calendar: Product demo") in _timeline(client, tenant, grace["id"])
    assert ("note_added", "Canceled in Google Calendar: Intro") in _timeline(client, tenant, alan["id"])

    # the token is invalidated: a full read again, and nothing is recorded twice
    calendar.invalid_tokens.add(calendar.requests[-1]["syncToken"])
    calendar.invalid_tokens.add(f"sync-{calendar.clock}")
    third = _sync(client, tenant, owner_session, integration_id)
    assert third["status"] == "succeeded" and third["createdCount"] == 0 and third["updatedCount"] == 0, third
    assert "timeMin" in calendar.requests[-1]
    assert len(_timeline(client, tenant, grace["id"])) == 2 and len(_timeline(client, tenant, alan["id"])) == 2

    # an expired token whose full read fails too: the sync fails with Google's answer, nothing half-done
    calendar.invalid_tokens.add(f"sync-{calendar.clock}")
    calendar.failing = True
    try:
        failed = _sync(client, tenant, owner_session, integration_id)
    finally:
        calendar.failing = False
    assert failed["status"] == "failed" and "503" in failed["error"], failed


def test_an_expired_token_is_refreshed_and_a_refused_refresh_is_reported(client, tenant, other_tenant, google):
    auth, _ = google
    for org, refreshed, expected in ((tenant, TOKEN, "connected"), (other_tenant, None, "error")):
        started = client.post(f"{URL}/install", json={"provider": "google_calendar"}, headers=org.admin.headers)
        auth.access_token, auth.refreshed_token = "ya29.expired", refreshed
        try:
            done = client.get(f"{URL}/oauth/callback", params=auth.authorize(started.json()["authorizationUrl"]))
        finally:
            auth.access_token, auth.refreshed_token = TOKEN, None
        # Google answers the expired token 401; the offline refresh token gets a new one (or is refused: said so)
        assert done.status_code == 200 and done.json()["status"] == expected, done.text
        if expected == "error":
            assert "refresh refused" in done.json()["lastError"]
        else:
            assert auth.exchanges[-1]["grant_type"] == "refresh_token"

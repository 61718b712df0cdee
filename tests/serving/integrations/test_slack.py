"""Slack connector against a local fake Slack speaking Slack's documented JSON, through the tracked client."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from serving.integrations.connectors import CONNECTORS
from serving.integrations.connectors.base import (
    ApiCall,
    ConnectorContext,
    ConnectorError,
    Credentials,
    RateLimited,
    tracked_client,
)


class FakeSlack(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SlackHandler)
        self.posted: list[tuple[str, dict]] = []
        self.rate_limited = False


class _SlackHandler(BaseHTTPRequestHandler):
    server: FakeSlack

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        if self.headers.get("Authorization") != "Bearer xoxb-good":
            return self._json(200, {"ok": False, "error": "invalid_auth"})
        if self.server.rate_limited:
            return self._json(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"})
        if self.path == "/api/auth.test":
            return self._json(200, {"ok": True, "team": "Acme", "user_id": "U1"})
        if self.path == "/api/chat.postMessage":
            if payload.get("channel") != "C123":
                return self._json(200, {"ok": False, "error": "channel_not_found"})
            self.server.posted.append((self.headers["Authorization"], payload))
            return self._json(200, {"ok": True, "channel": "C123", "ts": "1503435956.000247"})
        return self._json(404, {"ok": False, "error": "unknown_method"})

    def _json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slack():
    server = FakeSlack()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _context(slack: FakeSlack, calls: list[ApiCall], token: str = "xoxb-good") -> ConnectorContext:
    connector = CONNECTORS["slack"]
    org = uuid.uuid4()
    return ConnectorContext(organization_id=org, integration_id=uuid.uuid4(),
                            credentials=Credentials(access_token=token), config={"channel": "C123"},
                            http=tracked_client(connector, organization_id=org, record=calls.append),
                            base_url=f"http://127.0.0.1:{slack.server_address[1]}/api")


def test_notify_posts_to_the_configured_channel_and_each_call_is_tracked(slack):
    calls: list[ApiCall] = []
    ctx = _context(slack, calls)
    connector = CONNECTORS["slack"]()
    connector.check(ctx)
    connector.notify(ctx, "Deal won: Acme")
    assert slack.posted == [("Bearer xoxb-good", {"channel": "C123", "text": "Deal won: Acme"})]
    assert [(c.endpoint, c.ok) for c in calls] == [("/api/auth.test", True), ("/api/chat.postMessage", True)]


def test_slack_refusals_become_connector_errors_with_slacks_code(slack):
    calls: list[ApiCall] = []
    connector = CONNECTORS["slack"]()
    with pytest.raises(ConnectorError) as refused:
        connector.notify(_context(slack, calls), "hi", channel="C999")
    assert refused.value.code == "channel_not_found"
    with pytest.raises(ConnectorError) as bad_auth:
        connector.check(_context(slack, calls, token="xoxb-revoked"))
    assert bad_auth.value.code == "invalid_auth"
    slack.rate_limited = True
    with pytest.raises(RateLimited) as limited:
        connector.notify(_context(slack, calls), "hi")
    assert limited.value.retry_after == 30
    assert slack.posted == []
    # the 429 is counted as a failed call
    assert calls[-1].ok is False

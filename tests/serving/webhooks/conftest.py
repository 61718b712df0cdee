"""A real local receiver for webhook tests: a threaded HTTP server that verifies every delivery with the official
`standardwebhooks` library against the secrets it was told, and answers from a script (fail N times, redirect,
410). The app under test runs with WEBHOOKS_ALLOW_PRIVATE_TARGETS on (the receiver is on 127.0.0.1), and each
endpoint pointed at it is created by an admin with `allowPrivate`."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from serving.core.db import session_factory
from serving.main import create_app
from serving.webhooks import delivery
from tests.conftest import make_settings

API = "/api/v1/webhooks"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified_by: list[str]  # which of the receiver's secrets verified it

    @property
    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    port: int
    secrets: list[str] = field(default_factory=list)
    script: list[int] = field(default_factory=list)  # statuses to answer, in order; then 200
    received: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def answer(self) -> int:
        return self.script.pop(0) if self.script else 200


def _verifiers(secrets: list[str], body: bytes, headers: dict[str, str]) -> list[str]:
    found = []
    for secret in secrets:
        try:
            Webhook(secret).verify(body, headers)
        except WebhookVerificationError:
            continue
        found.append(secret)
    return found


@pytest.fixture
def receiver():
    state = Receiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.received.append(Received(self.path, headers, body, _verifiers(state.secrets, body, headers)))
            status = state.answer()
            self.send_response(status)
            if status in (301, 302, 307, 308):
                self.send_header("Location", f"http://127.0.0.1:{state.port}/elsewhere")
            payload = json.dumps({"ok": 200 <= status < 300}).encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def private_settings(database, state_dir):
    return make_settings(database, state_dir, WEBHOOKS_ALLOW_PRIVATE_TARGETS="true")


@pytest.fixture(scope="session")
def private_client(private_settings):
    with TestClient(create_app(private_settings)) as test_client:
        yield test_client


def add_endpoint(client, tenant, receiver: Receiver, **body) -> dict:
    """An endpoint at the receiver, made by the tenant's admin; the receiver learns its secret."""
    response = client.post(API, json={"url": receiver.url, "allowPrivate": True, **body},
                           headers=tenant.admin.headers)
    assert response.status_code == 201, response.text
    created = response.json()
    receiver.secrets.append(created["secret"])
    return created


def run(settings, tenant, now) -> delivery.Outcome:
    """The delivery job's body for the tenant, on a pinned clock."""
    return delivery.run(factory=session_factory(settings.api_database_url), settings=settings,
                        organization_id=tenant.organization_id, now=now)

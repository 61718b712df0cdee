"""Token refresh through authlib against a local token endpoint speaking RFC 6749 §5 JSON."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from serving.integrations.connectors.base import ConnectorError
from serving.integrations.oauth import refresh_access_token


class _TokenHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}
        self.server.requests.append(form)  # type: ignore[attr-defined]
        good = (form.get("grant_type") == "refresh_token" and form.get("refresh_token") == "rt-1"
                and form.get("client_id") == "cid" and form.get("client_secret") == "csecret")
        body = ({"access_token": "at-2", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt-2"} if good
                else {"error": "invalid_grant", "error_description": "refresh token revoked"})
        raw = json.dumps(body).encode()
        self.send_response(200 if good else 400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def token_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TokenHandler)
    server.requests = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/token"
    server.shutdown()
    server.server_close()


def test_refresh_returns_the_new_tokens(token_url):
    token = refresh_access_token(token_url=token_url, client_id="cid", client_secret="csecret", refresh_token="rt-1")
    assert (token["access_token"], token["refresh_token"], token["expires_in"]) == ("at-2", "rt-2", 3600)


def test_a_refused_refresh_raises_the_providers_error_code(token_url):
    with pytest.raises(ConnectorError) as refused:
        refresh_access_token(token_url=token_url, client_id="cid", client_secret="csecret", refresh_token="stale")
    assert refused.value.code == "invalid_grant"

"""An OpenID Connect provider for the SSO tests, on a local port: discovery, an authorization endpoint that
"signs in" the user the test names and redirects with a code, a token endpoint that checks the client's secret and
the PKCE verifier (S256) and returns an ID token signed with joserfc (RS256, `kid`), the JWKS and userinfo. Knobs
make the attacks: another audience, an expired token, another nonce, a token signed by a key not in the JWKS."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlparse

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.local_http import QuietHandler, serving

CLIENT_ID, CLIENT_SECRET = "revorc-test-client", "s3cret-for-tests"


@dataclass
class OidcProvider:
    port: int = 0
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(
        2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"}, private=True))
    rogue: RSAKey = field(default_factory=lambda: RSAKey.generate_key(
        2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"}, private=True))
    user: dict = field(default_factory=dict)  # the claims of who signs in next
    id_token_changes: dict = field(default_factory=dict)  # overrides of the ID token's claims (attacks)
    sign_with_rogue: bool = False
    codes: dict = field(default_factory=dict)
    token_requests: list = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def authorize(self, url: str) -> str:
        """What the browser does at the provider: returns the redirect back to our callback (path and query)."""
        query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
        code = secrets.token_urlsafe(16)
        self.codes[code] = query
        target = urlparse(query["redirect_uri"])
        return f"{target.path}?{urlencode({'code': code, 'state': query['state']})}"

    def _token(self, form: dict, authorization: str | None) -> tuple[int, dict]:
        self.token_requests.append(form)
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if authorization != expected:
            return 401, {"error": "invalid_client"}
        asked = self.codes.pop(form.get("code", ""), None)
        if asked is None or form.get("redirect_uri") != asked["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "unknown or used code"}
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(form.get("code_verifier", "").encode()).digest()).rstrip(b"=").decode()
        if asked.get("code_challenge_method") != "S256" or challenge != asked.get("code_challenge"):
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300, "nonce": asked.get("nonce"),
                  "email_verified": True, **self.user, **self.id_token_changes}
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.rogue if self.sign_with_rogue else self.key)
        return 200, {"access_token": "at-" + secrets.token_urlsafe(8), "token_type": "Bearer", "expires_in": 300,
                     "id_token": id_token}


@contextmanager
def running() -> Iterator[OidcProvider]:
    state = OidcProvider()

    class Handler(QuietHandler):
        def do_GET(self):
            path = urlparse(self.path).path
            if path == "/.well-known/openid-configuration":
                self.send_json(200, {"issuer": state.issuer, "authorization_endpoint": f"{state.issuer}/authorize",
                                 "token_endpoint": f"{state.issuer}/token", "jwks_uri": f"{state.issuer}/jwks",
                                 "userinfo_endpoint": f"{state.issuer}/userinfo",
                                 "code_challenge_methods_supported": ["S256"],
                                 "id_token_signing_alg_values_supported": ["RS256"]})
            elif path == "/jwks":
                self.send_json(200, KeySet([state.key]).as_dict(private=False))
            elif path == "/userinfo":
                self.send_json(200, state.user)
            else:
                self.send_json(404, {"error": "not_found"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlparse(self.path).path == "/token":
                self.send_json(*state._token(form, self.headers.get("Authorization")))
            else:
                self.send_json(404, {"error": "not_found"})

    with serving(Handler) as server:
        state.port = server.server_port
        yield state

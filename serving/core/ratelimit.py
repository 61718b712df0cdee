"""Rate limits per the seed: general per user or key, auth per IP, search per user; provider routes per IP.

Counts live in memory by default and in Redis when REDIS_URL is set (shared by every API process).

Provider routes (Segment Tracking API, SendGrid webhooks, inbound mail, open pixel, click redirect,
unsubscribe) have their own, larger limit, and going over it never loses an event:
- the webhooks and inbound mail answer 503 with Retry-After: SendGrid retries 5xx (Inbound Parse drops a 4xx
  for good, the Event Webhook retries any non-2xx for 24 hours);
- the Segment routes answer 429 with Retry-After, which Segment's libraries retry after the given delay;
- a tracking link whose signed token verifies is served as if under the limit (the GIF, the redirect, the
  unsubscribe, and the open/click/unsubscribe recorded): the mail client or image proxy fetching it will not
  retry, so refusing it would lose the event. Checking the HMAC costs no database work, so the limit still
  turns away floods of forged or garbled links. The check is the emails domain's, passed in by the app factory
  as `link_verifier` (core imports no domain).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

from limits import RateLimitItem, WindowStats, parse
from limits.aio.storage import MemoryStorage as AsyncMemoryStorage
from limits.aio.strategies import FixedWindowRateLimiter as AsyncFixedWindowRateLimiter
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.core.config import Settings
from serving.core.errors import error_response
from serving.core.security import InvalidToken, decode_access_token

EXEMPT_PATHS = ("/healthz", "/readyz", "/docs", "/redoc", "/openapi.json")
AUTH_PREFIX = "/api/v1/auth/"
# Under /auth but called by signed-in users on every page: the general limit applies. Session exchange and
# sign-out carry a signed token (nothing to guess, unlike a password), and the dashboards call them from one
# server address for all their users: the per-IP login limit would sign everyone out at a busy minute.
AUTHENTICATED_AUTH_PATHS = frozenset({"/api/v1/auth/me", "/api/v1/auth/logout", "/api/v1/auth/sessions",
                                      "/api/v1/auth/sessions/refresh",
                                      "/api/v1/auth/sessions/revoke"})
SEGMENT = "segment"
WEBHOOK = "webhook"
LINK = "link"
# Path prefix → kind of provider route (the Segment Tracking API is served at the host root too)
PROVIDER_PREFIXES = (
    ("/v1/", SEGMENT),
    ("/api/v1/events/", SEGMENT),
    ("/api/v1/emails/webhook/", WEBHOOK),
    ("/api/v1/inbound/", WEBHOOK),
    ("/api/v1/billing/webhook/", WEBHOOK),
    ("/api/v1/t/", LINK),
    ("/api/v1/unsubscribe/", LINK),
)
# Tracking link path prefix → the kind its signed token must carry
LINK_KINDS = (("/api/v1/t/o/", "o"), ("/api/v1/t/c/", "c"), ("/api/v1/unsubscribe/", "u"))

# (token, kind) -> whether the tracking link's signed token verifies
LinkVerifier = Callable[[str, str], bool]
# Storage keys remembered per (limit, identity); beyond this many they are made again from scratch
MAX_KEYS = 100_000


def provider_kind(path: str) -> str | None:
    return next((kind for prefix, kind in PROVIDER_PREFIXES if path.startswith(prefix)), None)


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings, link_verifier: LinkVerifier | None = None) -> None:
        self.app = app
        self.settings = settings
        # Without one, no link is exempt: over the limit every link is refused like any other call.
        self.link_verifier = link_verifier
        # In memory, the asyncio flavour of `limits`: the threaded one starts a timer thread for expiry every
        # 10 ms under load, and each start blocked the event loop until the thread ran (profiled: 12 % of a CRM
        # read). Redis keeps the sync client it has always used.
        self.limiter: FixedWindowRateLimiter | AsyncFixedWindowRateLimiter = (
            FixedWindowRateLimiter(storage_from_string(settings.redis_url)) if settings.redis_url
            else AsyncFixedWindowRateLimiter(AsyncMemoryStorage()))
        self.general = parse(settings.rate_limit_general)
        self.auth = parse(settings.rate_limit_auth)
        self.search = parse(settings.rate_limit_search)
        self.provider = parse(settings.rate_limit_provider)
        self._keys: dict[tuple[RateLimitItem, str], str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.settings.rate_limit_enabled:
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path.startswith(EXEMPT_PATHS) or not path.startswith(("/api/", "/v1/")):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        provider = provider_kind(path)
        if provider:
            item, identity = self.provider, f"provider:ip:{ip}"
        elif path.startswith(AUTH_PREFIX) and path.rstrip("/") not in AUTHENTICATED_AUTH_PATHS:
            item, identity = self.auth, f"auth:ip:{ip}"
        else:
            item = self.search if path.startswith("/api/v1/search") else self.general
            identity = f"{'search' if item is self.search else 'general'}:{self._identity(scope, ip)}"
        if isinstance(self.limiter, AsyncFixedWindowRateLimiter):
            stats, allowed = await self._hit_in_memory(item, identity)
        else:
            allowed = self.limiter.hit(item, identity)
            stats = self.limiter.get_window_stats(item, identity)
        reset = math.ceil(stats.reset_time)
        limit_headers = [
            (b"x-ratelimit-limit", str(item.amount).encode()),
            (b"x-ratelimit-remaining", str(max(stats.remaining, 0)).encode()),
            (b"x-ratelimit-reset", str(reset).encode()),
        ]
        if not allowed and not (provider == LINK and self._signed_link(path)):
            retry_after = max(math.ceil(stats.reset_time - time.time()), 1)
            response = error_response(
                "RATE_LIMITED", f"rate limit of {item} exceeded; retry in {retry_after} s",
                503 if provider == WEBHOOK else 429,
                {"limit": item.amount, "window": str(item), "retryAfter": retry_after},
                headers={"Retry-After": str(retry_after)},
            )
            response.raw_headers.extend(limit_headers)
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + limit_headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _signed_link(self, path: str) -> bool:
        """The tracking link's token verifies (HMAC only, no database): a real open, click or unsubscribe."""
        for prefix, kind in LINK_KINDS:
            if path.startswith(prefix):
                token = path.removeprefix(prefix).removesuffix(".gif")
                return self.link_verifier is not None and self.link_verifier(token, kind)
        return False

    async def _hit_in_memory(self, item: RateLimitItem, identity: str) -> tuple[WindowStats, bool]:
        """`hit` and `get_window_stats` of the fixed-window strategy, on its storage with the key made once (the
        strategy derives it three times and reads the counter it has just incremented again: a tenth of a CRM
        read's middleware cost). Same counts, window and reset as the strategy's."""
        key = self._keys.get((item, identity))
        if key is None:
            if len(self._keys) >= MAX_KEYS:
                self._keys.clear()
            key = self._keys[(item, identity)] = item.key_for(identity)
        storage = self.limiter.storage
        count = await storage.incr(key, item.get_expiry())
        reset = await storage.get_expiry(key)
        return WindowStats(reset, max(item.amount - count, 0)), count <= item.amount

    def _identity(self, scope: Scope, ip: str) -> str:
        """Per user for tokens, per key for API keys, per IP for anonymous calls."""
        api_key, authorization = None, ""
        for name, value in scope.get("headers", []):  # ASGI servers give header names in lower case
            if name == b"x-api-key":
                api_key = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value.decode("latin-1")
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if not api_key and scheme.lower() == "bearer" and credential.startswith("sk_"):
            api_key = credential
        if api_key:
            return "key:" + hashlib.sha256(api_key.encode()).hexdigest()[:32]
        if scheme.lower() == "bearer" and credential:
            try:
                return "user:" + decode_access_token(credential, settings=self.settings)["sub"]
            except InvalidToken:
                pass
        return "ip:" + ip

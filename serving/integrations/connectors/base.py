"""The connector framework: what a connector declares, and the context it runs in.

A connector never builds its own HTTP client: `ConnectorContext.http` is an httpx client whose transport
(`TrackedTransport`) waits on the provider's rate limit (the `limits` library, a moving window per provider and
organization) and reports every call — success, latency and cost from the connector's price table — to a
`record` callback, which the integrations service binds to `track_api_call`. Token refresh goes through
`ctx.refresh()`, which the service implements with authlib and re-seals the new tokens.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from serving.integrations.models import AuthType

CREDENTIALS_PURPOSE = "integration-credentials"  # the sealing purpose of every integration secret
MAX_RATE_WAIT = 30.0  # seconds a call may wait for its provider's window before it is refused


class ConnectorError(Exception):
    """A provider refused or failed; `code` is a stable short reason (e.g. Slack's `channel_not_found`)."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


class RateLimited(ConnectorError):
    def __init__(self, retry_after: float) -> None:
        super().__init__("rate_limited", f"rate limited for {retry_after:.0f} s")
        self.retry_after = retry_after


@dataclass
class Credentials:
    access_token: str | None = None
    refresh_token: str | None = None
    api_key: str | None = None


@dataclass
class SyncResult:
    read: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    error: str | None = None


@dataclass(frozen=True)
class ApiCall:
    ok: bool
    latency_ms: int
    cost_micros: int
    endpoint: str


# One process-wide limiter: every context of a provider and organization shares its window.
_LIMITER = MovingWindowRateLimiter(MemoryStorage())


class TrackedTransport(httpx.BaseTransport):
    """Wraps a real transport: rate limit first, then time the call and report it (errors included)."""

    def __init__(self, inner: httpx.BaseTransport, *, limit: RateLimitItem, limit_key: str,
                 prices: dict[str, int], record: Callable[[ApiCall], None],
                 sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.inner = inner
        self.limit = limit
        self.limit_key = limit_key
        self.prices = prices
        self.record = record
        self.sleep = sleep
        self.monotonic = monotonic

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._wait_for_window()
        endpoint = request.url.path
        started = self.monotonic()
        try:
            response = self.inner.handle_request(request)
        except httpx.HTTPError:
            self.record(ApiCall(False, self._elapsed(started), 0, endpoint))
            raise
        ok = response.status_code < 400
        self.record(ApiCall(ok, self._elapsed(started), self._price(endpoint), endpoint))
        return response

    def close(self) -> None:
        self.inner.close()

    def _elapsed(self, started: float) -> int:
        return int((self.monotonic() - started) * 1000)

    def _price(self, endpoint: str) -> int:
        # longest matching path prefix wins; "" is the default price
        matches = [prefix for prefix in self.prices if endpoint.startswith(prefix)]
        return self.prices[max(matches, key=len)] if matches else 0

    def _wait_for_window(self) -> None:
        if _LIMITER.hit(self.limit, self.limit_key):
            return
        reset_at, _ = _LIMITER.get_window_stats(self.limit, self.limit_key)
        wait = max(0.0, reset_at - time.time())
        if wait > MAX_RATE_WAIT:
            raise RateLimited(wait)
        self.sleep(wait)
        if not _LIMITER.hit(self.limit, self.limit_key):
            raise RateLimited(wait)


@dataclass
class ConnectorContext:
    organization_id: uuid.UUID
    integration_id: uuid.UUID
    credentials: Credentials
    config: dict[str, Any]
    http: httpx.Client
    base_url: str
    # returns (new access token, new base URL or None); set by the service for oauth2 integrations
    refresh: Callable[[], tuple[str, str | None]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def bearer(self) -> dict[str, str]:
        token = self.credentials.access_token or self.credentials.api_key or ""
        return {"Authorization": f"Bearer {token}"}


def tracked_client(connector: type[Connector], *, organization_id: uuid.UUID, record: Callable[[ApiCall], None],
                   transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep,
                   timeout: float = 20.0) -> httpx.Client:
    """An httpx client for one connector run. Redirects are not followed: a provider API never needs them."""
    tracked = TrackedTransport(transport or httpx.HTTPTransport(retries=0), limit=parse(connector.rate_limit),
                               limit_key=f"{connector.key}:{organization_id}", prices=connector.prices,
                               record=record, sleep=sleep)
    return httpx.Client(transport=tracked, timeout=timeout, follow_redirects=False)


class Connector:
    """Subclasses declare the class attributes and override what they support."""

    key: ClassVar[str]
    name: ClassVar[str]
    category: ClassVar[str]
    description: ClassVar[str] = ""
    auth_type: ClassVar[AuthType]
    # oauth2 only
    authorize_url: ClassVar[str | None] = None
    token_url: ClassVar[str | None] = None
    revoke_url: ClassVar[str | None] = None
    scopes: ClassVar[tuple[str, ...]] = ()
    # extra query parameters of the authorization URL (Google: offline access, so a refresh token is granted)
    authorize_params: ClassVar[dict[str, str]] = {}
    # the API's documented base URL; settings may override it (tests point it at local fakes)
    default_base_url: ClassVar[str] = ""
    # a `limits` rate string per provider and organization, from the provider's documented tier
    rate_limit: ClassVar[str] = "60/minute"
    # cost per call in micro-dollars by path prefix ("" = default); most APIs here are free per call
    prices: ClassVar[dict[str, int]] = {}
    syncs: ClassVar[bool] = False

    def check(self, ctx: ConnectorContext) -> None:
        """A cheap authenticated read; raises ConnectorError when the credentials or the provider fail."""
        raise NotImplementedError

    def sync(self, ctx: ConnectorContext) -> SyncResult:
        raise ConnectorError("unsupported", f"{self.key} does not sync")

    def notify(self, ctx: ConnectorContext, message: str) -> None:
        raise ConnectorError("unsupported", f"{self.key} does not send notifications")

"""Calendly (API v2, https://developer.calendly.com): installed with a personal access token; `GET /users/me` is
the check; on install a user-scoped webhook subscription (`POST /webhook_subscriptions`, events `invitee.created`
and `invitee.canceled`) is created with a signing key of ours, so Calendly signs what it sends
(`Calendly-Webhook-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`)."""

from __future__ import annotations

from typing import Any

from serving.integrations.connectors import register
from serving.integrations.connectors.base import Connector, ConnectorContext, ConnectorError, RateLimited
from serving.integrations.models import AuthType

EVENTS = ["invitee.created", "invitee.canceled"]


@register
class CalendlyConnector(Connector):
    key = "calendly"
    name = "Calendly"
    category = "calendar"
    description = "Booked meetings become timeline activities."
    auth_type = AuthType.api_key
    default_base_url = "https://api.calendly.com"
    rate_limit = "60/minute"

    def _call(self, ctx: ConnectorContext, method: str, path: str, payload: dict[str, Any] | None = None
              ) -> dict[str, Any]:
        response = ctx.http.request(method, f"{ctx.base_url.rstrip('/')}{path}", json=payload, headers=ctx.bearer())
        if response.status_code == 429:
            raise RateLimited(float(response.headers.get("Retry-After", "60") or 60))
        if response.status_code in (401, 403):
            raise ConnectorError("unauthenticated", "Calendly refused the token")
        if response.status_code >= 400:
            message = response.json().get("message", "") if response.content else ""
            raise ConnectorError("http_error", f"Calendly answered {response.status_code} {message}".strip())
        return response.json()

    def check(self, ctx: ConnectorContext) -> None:
        self._call(ctx, "GET", "/users/me")

    def subscribe(self, ctx: ConnectorContext, *, callback_url: str, signing_key: str) -> str:
        """The webhook subscription for the token's user; returns its URI."""
        me = self._call(ctx, "GET", "/users/me")["resource"]
        created = self._call(ctx, "POST", "/webhook_subscriptions", {
            "url": callback_url, "events": EVENTS, "organization": me["current_organization"], "user": me["uri"],
            "scope": "user", "signing_key": signing_key})
        return created["resource"]["uri"]

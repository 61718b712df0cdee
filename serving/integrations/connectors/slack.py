"""Slack: OAuth v2 install (`oauth.v2.access`), `auth.test` as the health probe, `chat.postMessage` to the
configured channel. Slack answers HTTP 200 with `{"ok": false, "error": "..."}` for most refusals, and 429 with
Retry-After when rate limited (https://api.slack.com/web#responses, https://api.slack.com/docs/rate-limits)."""

from __future__ import annotations

from typing import Any

from serving.integrations.connectors import register
from serving.integrations.connectors.base import Connector, ConnectorContext, ConnectorError, RateLimited
from serving.integrations.models import AuthType

MAX_MESSAGE_CHARS = 4000  # Slack truncates text beyond 40,000; we keep notifications short


@register
class SlackConnector(Connector):
    key = "slack"
    name = "Slack"
    category = "communication"
    description = "Post chosen events to a Slack channel."
    auth_type = AuthType.oauth2
    authorize_url = "https://slack.com/oauth/v2/authorize"
    token_url = "https://slack.com/api/oauth.v2.access"
    revoke_url = "https://slack.com/api/auth.revoke"
    scopes = ("chat:write",)
    default_base_url = "https://slack.com/api"
    # chat.postMessage allows about one message per second per channel (Slack's special tier)
    rate_limit = "1/second"

    def check(self, ctx: ConnectorContext) -> None:
        self._call(ctx, "auth.test", {})

    def notify(self, ctx: ConnectorContext, message: str, *, channel: str | None = None) -> None:
        target = channel or ctx.config.get("channel")
        if not target:
            raise ConnectorError("no_channel", "no Slack channel is configured")
        self._call(ctx, "chat.postMessage", {"channel": target, "text": message[:MAX_MESSAGE_CHARS]})

    def _call(self, ctx: ConnectorContext, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = ctx.http.post(f"{ctx.base_url.rstrip('/')}/{method}", json=payload, headers=ctx.bearer())
        if response.status_code == 429:
            try:
                retry_after = float(response.headers.get("Retry-After", "1"))
            except ValueError:
                retry_after = 1.0
            raise RateLimited(retry_after)
        if response.status_code >= 400:
            raise ConnectorError("http_error", f"Slack answered {response.status_code}")
        body = response.json()
        if not body.get("ok"):
            raise ConnectorError(str(body.get("error", "unknown_error")), f"Slack refused {method}")
        return body

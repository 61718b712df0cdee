"""OAuth 2.0 token refresh with authlib (RFC 6749 §6). The install flow (authorization code + PKCE) builds on the
same client; it is not built yet (docs/integrations.md)."""

from __future__ import annotations

import httpx
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client

from serving.integrations.connectors.base import ConnectorError


def refresh_access_token(*, token_url: str, client_id: str, client_secret: str, refresh_token: str,
                         transport: httpx.BaseTransport | None = None) -> dict:
    """Returns the provider's token response (access_token, maybe refresh_token, expires_in). A refused refresh
    (`invalid_grant`: revoked or expired refresh token) raises ConnectorError with the provider's code."""
    with OAuth2Client(client_id=client_id, client_secret=client_secret, token_endpoint=token_url,
                      token_endpoint_auth_method="client_secret_post", transport=transport,
                      follow_redirects=False, timeout=20.0) as client:
        try:
            return dict(client.refresh_token(token_url, refresh_token=refresh_token))
        except OAuthError as error:
            message = error.description or "token refresh refused"
            raise ConnectorError(error.error or "refresh_failed", message) from error

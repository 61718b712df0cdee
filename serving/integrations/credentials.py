"""Sealing and unsealing an installed integration's secrets (purpose "integration-credentials", rotation via
ENCRYPTION_KEYS as everywhere else). Nothing else reads the sealed columns."""

from __future__ import annotations

from datetime import datetime

from serving.core.config import Settings
from serving.core.sealing import seal, unseal
from serving.integrations.connectors.base import CREDENTIALS_PURPOSE, Credentials
from serving.integrations.models import TeamIntegration


def store_credentials(settings: Settings, integration: TeamIntegration, *, access_token: str | None = None,
                      refresh_token: str | None = None, expires_at: datetime | None = None,
                      api_key: str | None = None) -> None:
    def sealed(value: str | None) -> str | None:
        return seal(settings, value, purpose=CREDENTIALS_PURPOSE) if value else None

    integration.sealed_access_token = sealed(access_token)
    # a refresh response may omit the refresh token: keep the one we have
    if refresh_token or access_token is None:
        integration.sealed_refresh_token = sealed(refresh_token)
    integration.token_expires_at = expires_at
    integration.sealed_api_key = sealed(api_key)


def load_credentials(settings: Settings, integration: TeamIntegration) -> Credentials:
    def opened(value: str | None) -> str | None:
        return unseal(settings, value, purpose=CREDENTIALS_PURPOSE) if value else None

    return Credentials(access_token=opened(integration.sealed_access_token),
                       refresh_token=opened(integration.sealed_refresh_token),
                       api_key=opened(integration.sealed_api_key))


def forget_credentials(integration: TeamIntegration) -> None:
    integration.sealed_access_token = None
    integration.sealed_refresh_token = None
    integration.sealed_api_key = None
    integration.token_expires_at = None

"""HubSpot and Salesforce as connectors: install (OAuth 2.0), check and sync through the framework, so
`POST /integrations/{id}/sync` and scheduled syncs run the two-way CRM sync (`crm_sync/engine.py`) with the tracked
client, the sealed tokens and their refresh. The sync runs as the admin who installed the integration."""

from __future__ import annotations

from typing import Any, ClassVar

from serving.core.permissions import Role
from serving.core.principal import Principal
from serving.integrations.connectors import register
from serving.integrations.connectors.base import Connector, ConnectorContext, ConnectorError, SyncResult
from serving.integrations.crm_sync import engine, mapping
from serving.integrations.crm_sync.clients import CrmError, CrmHttp, HubSpotClient, SalesforceClient
from serving.integrations.models import AuthType


class _Crm(Connector):
    auth_type = AuthType.oauth2
    category = "crm"
    syncs = True
    client: ClassVar[type[HubSpotClient] | type[SalesforceClient]]

    def _remote(self, ctx: ConnectorContext) -> HubSpotClient | SalesforceClient:
        if not ctx.credentials.access_token:
            raise ConnectorError("not_authorized", "no access token: install again")
        return self.client(CrmHttp(ctx.http, base_url=ctx.base_url, access_token=ctx.credentials.access_token,
                                   refresh=ctx.refresh))

    def check(self, ctx: ConnectorContext) -> None:
        try:
            self._remote(ctx).check()
        except CrmError as error:
            raise ConnectorError("refused", str(error)) from error

    def sync(self, ctx: ConnectorContext) -> SyncResult:
        """Pull then push every mapped object from the stored cursor; record failures are counted, not raised."""
        db_session, installer = ctx.extra["db_session"], ctx.extra.get("installed_by")
        if installer is None:
            raise ConnectorError("no_installer", "the admin who installed the integration is gone: install again")
        principal = Principal(organization_id=ctx.organization_id, user_id=installer, role=Role.admin)
        try:
            outcome = engine.sync(db_session=db_session, principal=principal, integration_id=ctx.integration_id,
                                  remote=self._remote(ctx), mapping=mapping.resolve(self.key, ctx.config.get("crm")),
                                  cursor=ctx.extra.get("cursor"), now=ctx.extra["now"])
        except CrmError as error:
            raise ConnectorError("refused", str(error)) from error
        ctx.extra["next_cursor"] = outcome.cursor
        failures: list[dict[str, Any]] = outcome.failures
        return SyncResult(read=outcome.pulled_created + outcome.pulled_updated,
                          created=outcome.pulled_created + outcome.pushed_created,
                          updated=outcome.pulled_updated + outcome.pushed_updated, failed=outcome.failed,
                          error="; ".join(str(f.get("error", f))[:200] for f in failures[:3]) or None)


@register
class HubSpotConnector(_Crm):
    key = "hubspot"
    name = "HubSpot"
    description = "Two-way sync of contacts, companies and deals."
    client = HubSpotClient
    authorize_url = HubSpotClient.AUTHORIZE_URL
    token_url = HubSpotClient.TOKEN_URL
    scopes = HubSpotClient.SCOPES
    default_base_url = HubSpotClient.API_BASE
    rate_limit = "100/10second"  # HubSpot's documented burst limit for OAuth apps


@register
class SalesforceConnector(_Crm):
    key = "salesforce"
    name = "Salesforce"
    description = "Two-way sync of contacts, accounts and opportunities."
    client = SalesforceClient
    authorize_url = SalesforceClient.AUTHORIZE_URL
    token_url = SalesforceClient.TOKEN_URL
    scopes = SalesforceClient.SCOPES
    default_base_url = "https://login.salesforce.com"  # replaced by the token's `instance_url`
    rate_limit = "25/second"

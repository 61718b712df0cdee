"""/integrations: the marketplace, installs (API key or OAuth 2.0 with PKCE), status and health, usage, settings,
manual syncs and their logs, uninstall. Reading needs `integrations:read`; installing, changing, syncing and
uninstalling need `integrations:write` and an admin. The OAuth callback is public: the provider's redirect
carries the single-use state, not a session of ours."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from serving.core.deps import AdminPrincipal, AppSettings, DbSession, require
from serving.core.pagination import Page, Pagination, page_of, paginate, paginate_list
from serving.core.permissions import Scope
from serving.core.principal import Principal
from serving.integrations import service
from serving.integrations.schemas import (
    InstallIn,
    InstallOut,
    IntegrationOut,
    MarketplaceItem,
    SettingsIn,
    StatusOut,
    SyncLogOut,
    UsageDay,
    UsageOut,
    WebhookAccepted,
)

MAX_WEBHOOK_BYTES = 256_000
router = APIRouter()
callback_router = APIRouter()

Reader = Annotated[Principal, require(Scope.integrations_read)]
Writer = Annotated[Principal, require(Scope.integrations_write)]


def _out(row) -> IntegrationOut:
    return IntegrationOut.model_validate(row).model_copy(update={"config": service.shown_config(row)})


@router.get("/marketplace", response_model=Page[MarketplaceItem],
            summary="Every integration of the catalogue, whether it works here yet, and this organization's install")
def marketplace(db: DbSession, principal: Reader, pagination: Pagination,
                category: Annotated[str | None, Query(max_length=40)] = None):
    rows = [m for m in service.marketplace(db_session=db, organization_id=principal.organization_id)
            if category is None or m["category"] == category]
    items, meta = paginate_list(rows, pagination)
    return page_of([MarketplaceItem(**m) for m in items], meta)


@router.get("", response_model=Page[IntegrationOut], summary="Installed integrations")
def list_installed(db: DbSession, principal: Reader, pagination: Pagination):
    items, meta = paginate(db, service.installed(organization_id=principal.organization_id), pagination)
    return page_of([_out(r) for r in items], meta)


@router.post("/install", response_model=InstallOut, status_code=201,
             summary="Install: an API key is checked at once; OAuth answers the provider's authorization URL")
def install(body: InstallIn, db: DbSession, settings: AppSettings, principal: AdminPrincipal, _scope: Writer):
    row, url = service.install(db_session=db, settings=settings, principal=principal, key=body.provider,
                               api_key=body.api_key, config=body.config.model_dump(by_alias=True, exclude_none=True))
    return InstallOut(integration=_out(row), authorization_url=url)


@callback_router.get("/integrations/oauth/callback", response_model=IntegrationOut, tags=["integrations"],
                     summary="Where the provider sends the user back (single-use state, PKCE code exchange)")
def oauth_callback(db: DbSession, settings: AppSettings, state: Annotated[str, Query(min_length=1, max_length=200)],
                   code: Annotated[str | None, Query(max_length=4000)] = None,
                   error: Annotated[str | None, Query(max_length=200)] = None):
    return _out(service.complete_oauth(db_session=db, settings=settings, state=state, code=code, error=error))


@router.get("/{integration_id}/status", response_model=StatusOut, summary="Status, health score and recent usage")
def status(integration_id: uuid.UUID, db: DbSession, principal: Reader):
    row = service.get(db_session=db, integration_id=integration_id)
    return StatusOut(**service.status(db_session=db, row=row))


@router.get("/{integration_id}/analytics", response_model=UsageOut,
            summary="Calls, errors, latency and cost per day")
def analytics(integration_id: uuid.UUID, db: DbSession, principal: Reader,
              days: Annotated[int, Query(ge=1, le=365)] = 30):
    row = service.get(db_session=db, integration_id=integration_id)
    return UsageOut(days=[UsageDay(**d) for d in service.analytics(db_session=db, row=row, days=days)])


@router.put("/{integration_id}/settings", response_model=IntegrationOut,
            summary="Channel and events (Slack), sync interval, CRM field mapping")
def update_settings(integration_id: uuid.UUID, body: SettingsIn, db: DbSession, settings: AppSettings,
                    principal: AdminPrincipal, _scope: Writer):
    row = service.get(db_session=db, integration_id=integration_id)
    return _out(service.update_config(
        db_session=db, settings=settings, row=row, config=body.config.model_dump(by_alias=True, exclude_none=True)))


@router.post("/{integration_id}/sync", response_model=SyncLogOut, status_code=202,
             summary="Sync now (the worker runs it; follow its log)")
def sync_now(integration_id: uuid.UUID, db: DbSession, settings: AppSettings, principal: AdminPrincipal,
             _scope: Writer):
    row = service.get(db_session=db, integration_id=integration_id)
    return SyncLogOut.model_validate(service.request_sync(db_session=db, settings=settings, row=row))


@router.get("/{integration_id}/sync-logs", response_model=Page[SyncLogOut], summary="Syncs, newest first")
def sync_logs(integration_id: uuid.UUID, db: DbSession, principal: Reader, pagination: Pagination):
    service.get(db_session=db, integration_id=integration_id)
    items, meta = paginate(db, service.sync_logs(integration_id=integration_id), pagination)
    return page_of([SyncLogOut.model_validate(r) for r in items], meta)


@router.delete("/{integration_id}", status_code=204, summary="Uninstall: credentials destroyed, logs removed")
def uninstall(integration_id: uuid.UUID, db: DbSession, principal: AdminPrincipal, _scope: Writer):
    service.uninstall(db_session=db, row=service.get(db_session=db, integration_id=integration_id))


@callback_router.post("/integrations/calendly/webhook/{integration_id}", response_model=WebhookAccepted,
                      tags=["integrations"], summary="Calendly's signed webhook (invitee.created / invitee.canceled)")
async def calendly_webhook(integration_id: uuid.UUID, request: Request, db: DbSession, settings: AppSettings):
    body = await request.body()
    outcome = await run_in_threadpool(service.receive_calendly, db_session=db, settings=settings,
                                      integration_id=integration_id, body=body[:MAX_WEBHOOK_BYTES],
                                      signature=request.headers.get("Calendly-Webhook-Signature"))
    return WebhookAccepted(outcome=outcome)

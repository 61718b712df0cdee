"""/enrichment (issue 17 §4): the organization's enrichment providers (admins change them; keys are never returned,
only a hint), the request log, enriching one prospect now, and this month's usage and cost."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from serving.core.clock import utcnow
from serving.core.deps import AppSettings, DbSession, require
from serving.core.errors import Forbidden
from serving.core.pagination import Pagination, paginate
from serving.core.permissions import Scope
from serving.core.principal import Principal
from serving.enrichment import service
from serving.enrichment.models import EnrichmentProviderName, EnrichmentRequestStatus
from serving.enrichment.schemas import (
    EnrichIn,
    EnrichOut,
    ProviderIn,
    ProviderList,
    ProviderOut,
    RequestOut,
    RequestPage,
    UsageOut,
    UsageRow,
)

router = APIRouter()
Reader = Annotated[Principal, require(Scope.integrations_read)]
Writer = Annotated[Principal, require(Scope.integrations_write)]


def _out(settings, row) -> ProviderOut:
    return ProviderOut(provider=row.provider, enabled=row.enabled, priority=row.priority,
                       key_hint=service.key_hint(settings, row), cost_cents_per_request=row.cost_cents_per_request,
                       monthly_cap_cents=row.monthly_cap_cents, updated_at=row.updated_at)


@router.get("/providers", response_model=ProviderList, summary="The organization's enrichment providers")
def list_providers(db: DbSession, principal: Reader, settings: AppSettings):
    return ProviderList(data=[_out(settings, row) for row in service.providers(db_session=db)])


@router.put("/providers/{provider}", response_model=ProviderOut, summary="Set up one provider (admins)")
def put_provider(provider: EnrichmentProviderName, body: ProviderIn, db: DbSession, principal: Writer,
                 settings: AppSettings):
    if not principal.is_admin:
        raise Forbidden("only admins may change enrichment providers", code="INSUFFICIENT_ROLE",
                        details={"requiredRole": "admin"})
    row = service.put_provider(db_session=db, settings=settings, organization_id=principal.organization_id,
                               provider=provider.value, enabled=body.enabled, priority=body.priority,
                               api_key=body.api_key, cost_cents_per_request=body.cost_cents_per_request,
                               monthly_cap_cents=body.monthly_cap_cents)
    return _out(settings, row)


@router.get("/requests", response_model=RequestPage, summary="Provider requests, newest first")
def list_requests(db: DbSession, principal: Reader, pagination: Pagination,
                  prospect_id: Annotated[uuid.UUID | None, Query(alias="prospectId")] = None,
                  provider: EnrichmentProviderName | None = None, status: EnrichmentRequestStatus | None = None):
    items, meta = paginate(db, service.requests_query(
        prospect_id=prospect_id, provider=provider.value if provider else None,
        status=status.value if status else None), pagination)
    return RequestPage(data=[RequestOut.model_validate(r) for r in items], pagination=meta)


@router.post("/prospects/{prospect_id}", response_model=EnrichOut, summary="Enrich one prospect now")
def enrich(prospect_id: uuid.UUID, db: DbSession, principal: Writer, settings: AppSettings,
           body: EnrichIn | None = None):
    fields = (body or EnrichIn()).fields
    result = service.enrich_prospect(db_session=db, settings=settings, prospect_id=prospect_id, wanted=fields)
    return EnrichOut(prospect_id=prospect_id, enrichment_data=result.enrichment_data, requests=[
        {"provider": r.provider, "status": r.status, "fieldsReturned": list(r.fields_returned),
         "costCents": r.cost_cents, "cacheHit": r.cache_hit, "error": r.error} for r in result.requests])


@router.get("/usage", response_model=UsageOut, summary="This month's requests and cost per provider")
def usage(db: DbSession, principal: Reader):
    now = utcnow()
    return UsageOut(month=now.strftime("%Y-%m"),
                    data=[UsageRow.model_validate(row) for row in service.usage(db_session=db, now=now)])

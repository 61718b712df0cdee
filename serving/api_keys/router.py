"""/api-keys: managed by signed-in users (not by other API keys)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from serving.api_keys import service
from serving.api_keys.models import ApiKey
from serving.api_keys.schemas import ApiKeyCreate, ApiKeyOut, ApiKeyUsage, ApiKeyWithSecret, DailyUsage
from serving.audit import service as audit
from serving.core.deps import AppSettings, DbSession, InteractivePrincipal
from serving.core.errors import Forbidden, NotFound
from serving.core.idempotency import IdempotencyDep
from serving.core.pagination import Page, Pagination, page_of, paginate
from serving.core.principal import Principal

router = APIRouter()


def _writable(principal: Principal) -> None:
    if principal.is_viewer:
        raise Forbidden("viewers cannot manage API keys", code="INSUFFICIENT_ROLE")


def _get_or_404(db, principal, api_key_id: uuid.UUID) -> ApiKey:
    key = service.get(db_session=db, principal=principal, api_key_id=api_key_id)
    if key is None:
        raise NotFound("api key", api_key_id)
    return key


@router.get("", response_model=Page[ApiKeyOut], summary="List API keys (admins see the organization's)")
def list_api_keys(db: DbSession, principal: InteractivePrincipal, pagination: Pagination):
    items, meta = paginate(db, service.list_keys(db_session=db, principal=principal), pagination)
    return page_of([ApiKeyOut.model_validate(k) for k in items], meta)


@router.post("", response_model=ApiKeyWithSecret, status_code=201, summary="Create a key; the secret is shown once")
def create_api_key(body: ApiKeyCreate, db: DbSession, principal: InteractivePrincipal, idem: IdempotencyDep):
    _writable(principal)

    def create() -> ApiKeyWithSecret:
        key, secret = service.create(db_session=db, principal=principal, data=body)
        audit.record(db_session=db, principal=principal,
                     action="create", entity_type="api_key", entity_id=key.id,
                     changes={"name": key.name, "scopes": key.scopes})
        return ApiKeyWithSecret.model_validate({**ApiKeyOut.model_validate(key).model_dump(), "key": secret})

    # The secret must not be stored in the idempotency record; a replay returns the key without it.
    return idem.run(create, payload=body, redact=("key",))


@router.delete("/{api_key_id}", response_model=ApiKeyOut, summary="Revoke a key")
def revoke_api_key(api_key_id: uuid.UUID, db: DbSession, principal: InteractivePrincipal):
    _writable(principal)
    key = service.revoke(db_session=db, key=_get_or_404(db, principal, api_key_id))
    audit.record(db_session=db, principal=principal,
                 action="revoke", entity_type="api_key", entity_id=key.id)
    return ApiKeyOut.model_validate(key)


@router.put("/{api_key_id}/rotate", response_model=ApiKeyWithSecret,
            summary="Replace the secret; the old one stops working immediately")
def rotate_api_key(api_key_id: uuid.UUID, db: DbSession, principal: InteractivePrincipal):
    _writable(principal)
    new_key, secret = service.rotate(db_session=db, key=_get_or_404(db, principal, api_key_id))
    audit.record(db_session=db, principal=principal,
                 action="rotate", entity_type="api_key", entity_id=api_key_id,
                 changes={"newKeyId": str(new_key.id)})
    return ApiKeyWithSecret.model_validate({**ApiKeyOut.model_validate(new_key).model_dump(), "key": secret})


@router.get("/{api_key_id}/usage", response_model=ApiKeyUsage, summary="Request counts, total and per day")
def api_key_usage(
    api_key_id: uuid.UUID, db: DbSession, principal: InteractivePrincipal, settings: AppSettings,
    days: Annotated[int, Query(ge=1, le=365)] = 30,
):
    service.flush_usage(settings=settings)  # this process's counts; other processes write theirs within 1 s
    key = _get_or_404(db, principal, api_key_id)
    daily = service.daily_usage(db_session=db, key=key, days=days)
    return ApiKeyUsage(
        id=key.id, request_count=key.request_count, last_used_at=key.last_used_at, status=key.status,
        daily=[DailyUsage(date=d.day, request_count=d.request_count) for d in daily],
    )

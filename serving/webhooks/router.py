"""/webhooks (seed 8.2): the organization's outbound webhook endpoints, their secrets (shown at creation and on
rotation only), a test send, delivery logs, replay and health. Every route needs `webhooks:manage`; allowing a
private target needs an admin too (and the installation's WEBHOOKS_ALLOW_PRIVATE_TARGETS)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from serving.core.clock import utcnow
from serving.core.deps import AppSettings, DbSession, require
from serving.core.listing import parse_choices
from serving.core.pagination import Pagination, paginate
from serving.core.permissions import Scope
from serving.core.principal import Principal
from serving.webhooks import service
from serving.webhooks.models import LogStatus
from serving.webhooks.schemas import (
    EndpointCreated,
    EndpointIn,
    EndpointOut,
    EndpointPage,
    EndpointPatch,
    Health,
    LogOut,
    LogPage,
    Replayed,
    ReplayRangeIn,
    Rotated,
    RotateIn,
)

router = APIRouter()
Manager = Annotated[Principal, require(Scope.webhooks_manage)]


@router.post("", response_model=EndpointCreated, status_code=201,
             summary="Add an endpoint (its signing secret is in this answer only)")
def create_endpoint(body: EndpointIn, db: DbSession, principal: Manager, settings: AppSettings):
    endpoint, secret = service.create(db_session=db, settings=settings, principal=principal, body=body,
                                      now=utcnow())
    return EndpointCreated.model_validate({**EndpointOut.model_validate(endpoint).model_dump(), "secret": secret})


@router.get("", response_model=EndpointPage, summary="The organization's webhook endpoints")
def list_endpoints(db: DbSession, principal: Manager, pagination: Pagination):
    items, meta = paginate(db, service.list_query(), pagination)
    return EndpointPage(data=[EndpointOut.model_validate(e) for e in items], pagination=meta)


@router.post("/logs/{log_id}/replay", response_model=LogOut, status_code=202,
             summary="Send one logged delivery again (same webhook-id and body)")
def replay_log(log_id: uuid.UUID, db: DbSession, principal: Manager):
    return service.replay_log(db_session=db, log_id=log_id, now=utcnow())


@router.get("/{endpoint_id}", response_model=EndpointOut, summary="One endpoint")
def get_endpoint(endpoint_id: uuid.UUID, db: DbSession, principal: Manager):
    return service.get(db_session=db, endpoint_id=endpoint_id)


@router.patch("/{endpoint_id}", response_model=EndpointOut, summary="Change an endpoint")
def update_endpoint(endpoint_id: uuid.UUID, body: EndpointPatch, db: DbSession, principal: Manager,
                    settings: AppSettings):
    return service.update(db_session=db, settings=settings, principal=principal, endpoint_id=endpoint_id,
                          body=body, now=utcnow())


@router.delete("/{endpoint_id}", status_code=204, summary="Delete an endpoint and its logs")
def delete_endpoint(endpoint_id: uuid.UUID, db: DbSession, principal: Manager):
    service.delete(db_session=db, endpoint_id=endpoint_id)


@router.post("/{endpoint_id}/enable", response_model=EndpointOut, summary="Resume deliveries")
def enable_endpoint(endpoint_id: uuid.UUID, db: DbSession, principal: Manager):
    return service.set_enabled(db_session=db, endpoint_id=endpoint_id, enabled=True, now=utcnow())


@router.post("/{endpoint_id}/disable", response_model=EndpointOut,
             summary="Pause deliveries (events are still logged only while enabled)")
def disable_endpoint(endpoint_id: uuid.UUID, db: DbSession, principal: Manager):
    return service.set_enabled(db_session=db, endpoint_id=endpoint_id, enabled=False, now=utcnow())


@router.post("/{endpoint_id}/rotate-secret", response_model=Rotated,
             summary="A new secret (shown once); the old one also signs during the overlap")
def rotate_secret(endpoint_id: uuid.UUID, db: DbSession, principal: Manager, settings: AppSettings,
                  body: RotateIn | None = None):
    overlap = timedelta(hours=(body or RotateIn()).overlap_hours)
    endpoint, secret = service.rotate(db_session=db, settings=settings, endpoint_id=endpoint_id, overlap=overlap,
                                      now=utcnow())
    return Rotated(secret=secret, previous_secret_expires_at=endpoint.previous_secret_expires_at)


@router.post("/{endpoint_id}/test", response_model=LogOut,
             summary="Send a webhook.test event now and answer with the receiver's response")
def test_endpoint(endpoint_id: uuid.UUID, db: DbSession, principal: Manager, settings: AppSettings):
    return service.send_test(db_session=db, settings=settings, endpoint_id=endpoint_id, now=utcnow())


@router.get("/{endpoint_id}/logs", response_model=LogPage, summary="Delivery logs, newest first")
def list_logs(
    endpoint_id: uuid.UUID,
    db: DbSession,
    principal: Manager,
    pagination: Pagination,
    status: Annotated[str | None, Query(max_length=100, description="pending,failed,succeeded,dead")] = None,
    event_type: Annotated[str | None, Query(alias="eventType", max_length=200)] = None,
    since: Annotated[datetime | None, Query(description="created at or after")] = None,
    until: Annotated[datetime | None, Query(description="created before")] = None,
):
    service.get(db_session=db, endpoint_id=endpoint_id)  # 404 for an endpoint that is not the caller's
    stmt = service.logs_query(endpoint_id=endpoint_id, event_type=event_type, since=since, until=until,
                              statuses=[s.value for s in parse_choices(status, LogStatus, field="status")])
    items, meta = paginate(db, stmt, pagination)
    return LogPage(data=[LogOut.model_validate(log) for log in items], pagination=meta)


@router.post("/{endpoint_id}/replay", response_model=Replayed, status_code=202,
             summary="Send again everything logged for the endpoint in [from, to)")
def replay_range(endpoint_id: uuid.UUID, body: ReplayRangeIn, db: DbSession, principal: Manager):
    copies = service.replay_range(db_session=db, endpoint_id=endpoint_id, start=body.from_, end=body.to,
                                  now=utcnow())
    return Replayed(replayed=len(copies), log_ids=[c.id for c in copies])


@router.get("/{endpoint_id}/health", response_model=Health,
            summary="Success rate, latency percentiles, last error and consecutive failures over a window")
def endpoint_health(endpoint_id: uuid.UUID, db: DbSession, principal: Manager,
                    hours: Annotated[int, Query(ge=1, le=720, description="window in hours")] = 24):
    return service.health(db_session=db, endpoint_id=endpoint_id, window=timedelta(hours=hours), now=utcnow())

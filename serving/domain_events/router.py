"""/event-types (the catalogue) and /domain-events (the organization's event log, deliveries, replay)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from serving.audit import service as audit
from serving.core.deps import AdminPrincipal, CurrentPrincipal, DbSession
from serving.core.errors import NotFound
from serving.core.event_catalogue import CATALOGUE
from serving.core.outbox import wake
from serving.core.pagination import Page, Pagination, page_of, paginate
from serving.domain_events import service
from serving.domain_events.schemas import (
    DeliveryOut,
    DomainEventFilters,
    DomainEventOut,
    EventTypeList,
    EventTypeOut,
)

catalogue_router = APIRouter()
router = APIRouter()


@catalogue_router.get("", response_model=EventTypeList,
                      summary="The domain event catalogue: every event type, its version and payload schema")
def list_event_types(principal: CurrentPrincipal):
    return {"data": [EventTypeOut(name=t.name, version=t.version, subject=t.subject, description=t.description,
                                  payload_schema=t.schema()) for t in CATALOGUE.values()]}


@router.get("", response_model=Page[DomainEventOut],
            summary="The organization's domain events, newest first, with each subscriber's delivery (admins)")
def list_domain_events(db: DbSession, principal: AdminPrincipal, pagination: Pagination,
                       filters: Annotated[DomainEventFilters, Query()]):
    events, meta = paginate(db, service.filtered(filters), pagination)
    deliveries = service.deliveries_of(db_session=db, event_ids=[e.id for e in events])
    data = [DomainEventOut.model_validate(e).model_copy(
        update={"deliveries": [DeliveryOut.model_validate(d) for d in deliveries[e.id]]}) for e in events]
    return page_of(data, meta)


@router.post("/{event_id}/deliveries/{subscriber}/replay", response_model=DeliveryOut,
             summary="Replay a dead delivery: back to pending with a fresh attempt budget (admins)")
def replay_delivery(event_id: uuid.UUID, subscriber: str, db: DbSession, principal: AdminPrincipal):
    delivery = service.get_delivery(db_session=db, event_id=event_id, subscriber=subscriber)
    if delivery is None:
        raise NotFound("delivery", f"{event_id}/{subscriber}")
    service.replay_delivery(db_session=db, delivery=delivery)
    wake(db, principal.organization_id)
    audit.record(db_session=db, principal=principal,
                 action="domain_event.replay", entity_type="domain_event", entity_id=event_id,
                 changes={"subscriber": subscriber})
    return DeliveryOut.model_validate(delivery)

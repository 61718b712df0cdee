"""Reading the organization's domain events and their deliveries; replaying a dead delivery."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from serving.core.clock import utcnow
from serving.core.errors import ValidationFailed
from serving.core.event_catalogue import CATALOGUE
from serving.core.outbox import DeliveryStatus, DomainEvent, EventDelivery, replay
from serving.domain_events.schemas import DomainEventFilters


def filtered(filters: DomainEventFilters) -> Select:
    if filters.type is not None and filters.type not in CATALOGUE:
        raise ValidationFailed(f"unknown event type {filters.type!r}", details={"field": "type", "value": filters.type,
                                                                               "allowed": sorted(CATALOGUE)})
    stmt = select(DomainEvent).order_by(DomainEvent.recorded_at.desc(), DomainEvent.id.desc())
    if filters.type:
        stmt = stmt.where(DomainEvent.type == filters.type)
    if filters.subject_id:
        stmt = stmt.where(DomainEvent.subject_id == filters.subject_id)
    if filters.delivery_status:
        stmt = stmt.where(exists().where(EventDelivery.event_id == DomainEvent.id,
                                         EventDelivery.status == filters.delivery_status))
    return stmt


def deliveries_of(*, db_session: Session, event_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[EventDelivery]]:
    """Every listed event's deliveries in one query."""
    grouped: dict[uuid.UUID, list[EventDelivery]] = defaultdict(list)
    if event_ids:
        for delivery in db_session.scalars(select(EventDelivery).where(EventDelivery.event_id.in_(event_ids))
                                           .order_by(EventDelivery.subscriber)):
            grouped[delivery.event_id].append(delivery)
    return grouped


def get_delivery(*, db_session: Session, event_id: uuid.UUID, subscriber: str) -> EventDelivery | None:
    return db_session.get(EventDelivery, (event_id, subscriber))


def replay_delivery(*, db_session: Session, delivery: EventDelivery) -> None:
    """A dead delivery goes back to pending with a fresh attempt budget (a done one is never re-run)."""
    if delivery.status != DeliveryStatus.dead:
        raise ValidationFailed(f"only dead deliveries can be replayed (this one is {delivery.status})",
                               code="INVALID_STATE", details={"status": delivery.status})
    replay(db_session, event_id=delivery.event_id, subscriber=delivery.subscriber, now=utcnow())
    db_session.refresh(delivery)

"""The domain-event backbone: a transactional outbox and its at-least-once delivery to subscribers.

Publishing writes one `app.domain_events` row in the caller's transaction (so an event exists if and only if the
change that caused it was committed) and wakes the worker. The worker then, per organization and with the tenant
bound (row-level security applies to subscribers as to the API):

1. dispatches: for each new event, one `app.domain_event_deliveries` row per subscriber of its type — each
   subscriber's own claim, so one slow or failing subscriber never holds back another;
2. delivers: claims due deliveries with `FOR UPDATE SKIP LOCKED`, runs each handler in a savepoint and marks the
   delivery `done` **in the same transaction** as the handler's writes. A worker killed mid-delivery rolls all of it
   back and the next worker runs it again, so a database subscriber sees each event exactly once; a subscriber
   with outside effects (webhooks) gets it at least once and uses the event id as its idempotency key.
   A handler that raises is retried with backoff; after `max_attempts` the delivery is `dead` (kept, with the error,
   for replay).

Pipelines publish set-wise with `publish_select` (intent spikes, score crossings); `dedupe_key` makes a re-run
publish nothing twice.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from serving.core.clock import utcnow
from serving.core.db import Base, tenant_session
from serving.core.enums import check_in
from serving.core.event_catalogue import Payload, event_type, validate_payload
from serving.core.queue import enqueue

logger = logging.getLogger(__name__)

DELIVER_TASK = "events.deliver"
BATCH_SIZE = 200


class DeliveryStatus(StrEnum):
    pending = "pending"
    done = "done"
    dead = "dead"


class DomainEvent(Base):
    __tablename__ = "domain_events"
    __table_args__ = (
        UniqueConstraint("organization_id", "type", "dedupe_key"),
        Index("ix_domain_events_undispatched", "organization_id", "recorded_at",
              postgresql_where="dispatched_at is null"),
        Index("ix_domain_events_org_type_occurred", "organization_id", "type", "occurred_at"),
        Index("ix_domain_events_subject", "organization_id", "subject_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    subject_id: Mapped[uuid.UUID | None]
    actor_user_id: Mapped[uuid.UUID | None]
    payload: Mapped[dict] = mapped_column(JSONB)
    dedupe_key: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(server_default=func.clock_timestamp())
    dispatched_at: Mapped[datetime | None]


class EventDelivery(Base):
    __tablename__ = "domain_event_deliveries"
    __table_args__ = (
        check_in("status", DeliveryStatus, nullable=False),
        Index("ix_domain_event_deliveries_due", "organization_id", "next_attempt_at",
              postgresql_where="status = 'pending'"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("domain_events.id", ondelete="CASCADE"), primary_key=True
    )
    subscriber: Mapped[str] = mapped_column(Text, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(Text, default=DeliveryStatus.pending, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


@dataclass(frozen=True)
class Event:
    """What a subscriber receives: the envelope and the catalogued payload (camelCase, as stored)."""

    id: uuid.UUID
    organization_id: uuid.UUID
    type: str
    version: int
    subject_id: uuid.UUID | None
    actor_user_id: uuid.UUID | None
    payload: dict[str, Any]
    occurred_at: datetime


Handler = Callable[..., None]  # handler(*, db_session: Session, event: Event) -> None


@dataclass(frozen=True)
class Subscriber:
    """A reaction to events. `name` is its identity in the deliveries table: never rename a live subscriber."""

    name: str
    event_types: frozenset[str]
    handler: Handler
    max_attempts: int = 8

    def __post_init__(self) -> None:
        for name in self.event_types:
            event_type(name)  # a subscriber to an uncatalogued event is a programming error


@dataclass
class Registry:
    subscribers: dict[str, Subscriber] = field(default_factory=dict)

    @classmethod
    def of(cls, subscribers: Iterable[Subscriber]) -> Registry:
        registry = cls()
        for subscriber in subscribers:
            if subscriber.name in registry.subscribers:
                raise ValueError(f"two subscribers are named {subscriber.name!r}")
            registry.subscribers[subscriber.name] = subscriber
        return registry

    def for_type(self, name: str) -> list[Subscriber]:
        return [s for s in self.subscribers.values() if name in s.event_types]


def wake(db_session: Session, organization_id: uuid.UUID | str) -> None:
    """Defer a delivery job for the organization once per transaction (jobs coalesce on their lock anyway)."""
    transaction = db_session.get_transaction()
    woken = db_session.info.setdefault("outbox_woken", {})
    if woken.get(str(organization_id)) is transaction and transaction is not None:
        return
    woken[str(organization_id)] = transaction
    enqueue(db_session, DELIVER_TASK, queueing_lock=f"events:{organization_id}",
            organization_id=str(organization_id))


def publish(
    db_session: Session,
    *,
    organization_id: uuid.UUID,
    type: str,
    payload: Payload | dict[str, Any],
    subject_id: uuid.UUID | None = None,
    actor_user_id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
    dedupe_key: str | None = None,
) -> DomainEvent | None:
    """Record one event in the caller's transaction; returns None when `dedupe_key` was already published."""
    spec = event_type(type)
    values = {
        "id": uuid.uuid4(), "organization_id": organization_id, "type": type, "version": spec.version,
        "subject_id": subject_id, "actor_user_id": actor_user_id, "payload": validate_payload(type, payload),
        "dedupe_key": dedupe_key, "occurred_at": occurred_at or utcnow(),
    }
    if dedupe_key is None:
        event = DomainEvent(**values)
        db_session.add(event)
    else:
        inserted = db_session.execute(
            insert(DomainEvent).values(**values)
            .on_conflict_do_nothing(index_elements=["organization_id", "type", "dedupe_key"])
            .returning(DomainEvent.id)
        ).scalar()
        if inserted is None:
            return None
        event = db_session.get(DomainEvent, inserted)
    wake(db_session, organization_id)
    return event


def publish_select(session: Session, *, type: str, select_sql: str, params: dict[str, Any]) -> int:
    """Publish one event per row of `select_sql` (columns: organization_id, subject_id, payload (jsonb),
    dedupe_key, occurred_at) in the caller's transaction; every payload is checked against the catalogue, so a
    malformed one rolls the whole batch back. Returns how many were new."""
    spec = event_type(type)
    rows = session.execute(
        text(f"""insert into app.domain_events (id, organization_id, type, version, subject_id, payload, dedupe_key,
                                                occurred_at)
                 select gen_random_uuid(), s.organization_id, :__type, :__version, s.subject_id, s.payload,
                        s.dedupe_key, s.occurred_at
                 from ({select_sql}) as s
                 on conflict (organization_id, type, dedupe_key) do nothing
                 returning organization_id, payload"""),
        {**params, "__type": type, "__version": spec.version},
    ).all()
    for _, payload in rows:
        validate_payload(type, payload)
    for organization_id in {row[0] for row in rows}:
        wake(session, organization_id)
    return len(rows)


def retry_at(attempts: int, now: datetime) -> datetime:
    """Exponential backoff with full jitter: ~30 s, 1 min, 2 min … capped at 1 h."""
    ceiling = min(3600.0, 30.0 * 2 ** max(0, attempts - 1))
    return now + timedelta(seconds=random.uniform(ceiling / 2, ceiling))


@dataclass
class DeliveryOutcome:
    dispatched: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0

    def __iadd__(self, other: DeliveryOutcome) -> DeliveryOutcome:
        for name in ("dispatched", "delivered", "retried", "dead"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


def dispatch(db_session: Session, *, registry: Registry, now: datetime, limit: int = BATCH_SIZE) -> int:
    """Fan the tenant's new events out to one delivery row per subscriber (in the caller's transaction)."""
    events = db_session.execute(
        text("""select id, type, organization_id from app.domain_events where dispatched_at is null
                order by recorded_at, id limit :limit for update skip locked"""),
        {"limit": limit},
    ).all()
    if not events:
        return 0
    rows = [
        {"event_id": event_id, "subscriber": s.name, "organization_id": org, "now": now}
        for event_id, type_, org in events for s in registry.for_type(type_)
    ]
    if rows:
        db_session.execute(
            text("""insert into app.domain_event_deliveries (event_id, subscriber, organization_id, next_attempt_at)
                    values (:event_id, :subscriber, :organization_id, :now) on conflict do nothing"""),
            rows,
        )
    db_session.execute(
        text("update app.domain_events set dispatched_at = :now where id = any(:ids)"),
        {"now": now, "ids": [e[0] for e in events]},
    )
    return len(events)


def deliver_batch(db_session: Session, *, registry: Registry, now: datetime, limit: int = BATCH_SIZE
                  ) -> DeliveryOutcome:
    """Run the tenant's due deliveries, each handler in a savepoint of the caller's transaction."""
    outcome = DeliveryOutcome()
    due = db_session.execute(
        text("""select d.event_id, d.subscriber, d.attempts, e.organization_id, e.type, e.version, e.subject_id,
                       e.actor_user_id, e.payload, e.occurred_at
                from app.domain_event_deliveries as d
                inner join app.domain_events as e on e.id = d.event_id
                where d.status = 'pending' and d.next_attempt_at <= :now
                order by e.recorded_at, e.id, d.subscriber
                limit :limit
                for update of d skip locked"""),
        {"now": now, "limit": limit},
    ).all()
    for row in due:
        event = Event(id=row.event_id, organization_id=row.organization_id, type=row.type, version=row.version,
                      subject_id=row.subject_id, actor_user_id=row.actor_user_id, payload=row.payload,
                      occurred_at=row.occurred_at)
        subscriber = registry.subscribers.get(row.subscriber)
        error: str | None = None
        if subscriber is None:
            error = f"no subscriber named {row.subscriber!r} in this build"
        else:
            try:
                with db_session.begin_nested():
                    subscriber.handler(db_session=db_session, event=event)
            except Exception as exc:  # a subscriber's failure is recorded on its delivery, never lost
                logger.warning("subscriber %s failed on %s %s", row.subscriber, event.type, event.id, exc_info=True)
                error = f"{type(exc).__name__}: {exc}"[:2000]
        _settle(db_session, row=row, error=error, max_attempts=subscriber.max_attempts if subscriber else 1,
                now=now, outcome=outcome)
    return outcome


def _settle(db_session: Session, *, row: Any, error: str | None, max_attempts: int, now: datetime,
            outcome: DeliveryOutcome) -> None:
    attempts = row.attempts + 1
    if error is None:
        status, next_at = DeliveryStatus.done, None
        outcome.delivered += 1
    elif attempts >= max_attempts:
        status, next_at = DeliveryStatus.dead, None
        outcome.dead += 1
    else:
        status, next_at = DeliveryStatus.pending, retry_at(attempts, now)
        outcome.retried += 1
    db_session.execute(
        text("""update app.domain_event_deliveries
                set status = :status, attempts = :attempts, last_error = :error,
                    next_attempt_at = coalesce(:next_at, next_attempt_at),
                    delivered_at = case when :status = 'done' then :now end
                where event_id = :event_id and subscriber = :subscriber"""),
        {"status": status.value, "attempts": attempts, "error": error, "next_at": next_at, "now": now,
         "event_id": row.event_id, "subscriber": row.subscriber},
    )


def deliver(
    *,
    factory: sessionmaker[Session],
    organization_id: uuid.UUID,
    registry: Registry,
    now: Callable[[], datetime] = utcnow,
    batch_size: int = BATCH_SIZE,
    max_batches: int | None = None,
) -> DeliveryOutcome:
    """Dispatch and deliver one organization's events until nothing is due; one transaction per batch."""
    total = DeliveryOutcome()
    batches = 0
    while max_batches is None or batches < max_batches:
        batches += 1
        with tenant_session(factory, organization_id) as session:
            step = DeliveryOutcome(dispatched=dispatch(session, registry=registry, now=now(), limit=batch_size))
        with tenant_session(factory, organization_id) as session:
            step += deliver_batch(session, registry=registry, now=now(), limit=batch_size)
        total += step
        if not (step.dispatched or step.delivered or step.retried or step.dead):
            break
    return total


def organizations_due(db_session: Session, *, now: datetime) -> Sequence[uuid.UUID]:
    """Organizations with events to dispatch or deliveries due (a definer function: the sweep has no tenant)."""
    return list(db_session.scalars(text("select * from app.domain_events_due_organizations(:now)"), {"now": now}))


def replay(db_session: Session, *, event_id: uuid.UUID, subscriber: str, now: datetime) -> bool:
    """Put a delivery back in the queue with a fresh attempt budget; returns whether one was found."""
    return bool(db_session.execute(
        text("""update app.domain_event_deliveries
                set status = 'pending', attempts = 0, next_attempt_at = :now, last_error = null
                where event_id = :event_id and subscriber = :subscriber"""),
        {"now": now, "event_id": event_id, "subscriber": subscriber},
    ).rowcount)

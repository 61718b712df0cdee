"""The domain-event outbox against the real database: transactional publishing, one claim per subscriber,
retries with backoff, the dead-letter state, savepoint isolation of a failing handler, tenancy, deduplication."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, text

from serving.activities.models import Activity, ActivityType
from serving.core import outbox
from serving.core.clock import utcnow
from serving.core.db import session_factory, tenant_session
from serving.core.event_catalogue import UnknownEventType
from serving.prospects.models import Prospect
from serving.tasks.models import Task
from serving.tasks.reminders import publish_all_due_soon
from tests.factories import unique_email


@pytest.fixture
def factory(settings):
    return session_factory(settings.api_database_url)


def _prospect(tenant) -> Prospect:
    return tenant.add(Prospect, email=unique_email("p"), first_name="Ada")


def _publish(factory, tenant, prospect, **extra) -> uuid.UUID | None:
    with tenant_session(factory, tenant.organization_id) as session:
        event = outbox.publish(session, organization_id=tenant.organization_id, type="prospect.qualified",
                               subject_id=prospect.id, payload={"prospectId": prospect.id, "status": "qualified"},
                               **extra)
        return event.id if event else None


def _note(*, db_session, event) -> None:
    db_session.add(Activity(organization_id=event.organization_id, prospect_id=event.subject_id,
                            type=ActivityType.note_added, subject=f"note for {event.id}", metadata_={}))


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now


def _deliveries(owner_session, event_id) -> dict[str, tuple[str, int]]:
    rows = owner_session.execute(text("select subscriber, status, attempts from app.domain_event_deliveries"
                                      " where event_id = :id"), {"id": event_id}).all()
    return {r.subscriber: (r.status, r.attempts) for r in rows}


def _notes(owner_session, prospect) -> int:
    return owner_session.scalar(select(func.count()).select_from(Activity).where(
        Activity.prospect_id == prospect.id, Activity.type == ActivityType.note_added))


def test_an_event_exists_only_if_its_transaction_commits(factory, tenant, owner_session):
    prospect = _prospect(tenant)
    with pytest.raises(RuntimeError), tenant_session(factory, tenant.organization_id) as session:
        outbox.publish(session, organization_id=tenant.organization_id, type="prospect.qualified",
                       subject_id=prospect.id, payload={"prospectId": prospect.id, "status": "qualified"})
        raise RuntimeError("the change failed")
    count = "select count(*) from app.domain_events where organization_id = :org"
    jobs = ("select count(*) from procrastinate.procrastinate_jobs where task_name = 'events.deliver'"
            " and queueing_lock = :lock")
    lock = f"events:{tenant.organization_id}"
    assert owner_session.scalar(text(count), {"org": tenant.organization_id}) == 0
    assert owner_session.scalar(text(jobs), {"lock": lock}) == 0
    _publish(factory, tenant, prospect)
    _publish(factory, tenant, prospect)
    owner_session.commit()
    assert owner_session.scalar(text(count), {"org": tenant.organization_id}) == 2
    assert owner_session.scalar(text(jobs), {"lock": lock}) == 1  # wake-ups coalesce


def test_the_catalogue_refuses_unknown_types_and_malformed_payloads(factory, tenant):
    prospect = _prospect(tenant)
    with tenant_session(factory, tenant.organization_id) as session:
        with pytest.raises(UnknownEventType):
            outbox.publish(session, organization_id=tenant.organization_id, type="prospect.teleported",
                           payload={})
        with pytest.raises(ValidationError):
            outbox.publish(session, organization_id=tenant.organization_id, type="prospect.qualified",
                           payload={"prospectId": prospect.id, "status": "qualified", "typo": 1})
        with pytest.raises(UnknownEventType):
            outbox.Subscriber("x", frozenset({"prospect.teleported"}), _note)


def test_each_subscriber_retries_on_its_own_until_done_or_dead(factory, tenant, owner_session):
    prospect = _prospect(tenant)
    event_id = _publish(factory, tenant, prospect)
    failures = {"flaky": 0}

    def flaky(*, db_session, event):
        if failures["flaky"] < 2:
            failures["flaky"] += 1
            raise ConnectionError("receiver down")

    def broken(*, db_session, event):
        raise ValueError("cannot handle this")

    registry = outbox.Registry.of([
        outbox.Subscriber("test.note", frozenset({"prospect.qualified"}), _note),
        outbox.Subscriber("test.flaky", frozenset({"prospect.qualified"}), flaky),
        outbox.Subscriber("test.broken", frozenset({"prospect.qualified"}), broken, max_attempts=3),
        outbox.Subscriber("test.elsewhere", frozenset({"deal.won"}), _note),
    ])
    clock = Clock()
    first = outbox.deliver(factory=factory, organization_id=tenant.organization_id, registry=registry, now=clock)
    assert (first.dispatched, first.delivered, first.retried, first.dead) == (1, 1, 2, 0)
    assert _deliveries(owner_session, event_id) == {
        "test.note": ("done", 1), "test.flaky": ("pending", 1), "test.broken": ("pending", 1)}
    error, next_at = owner_session.execute(text(
        "select last_error, next_attempt_at from app.domain_event_deliveries where event_id = :id"
        " and subscriber = 'test.broken'"), {"id": event_id}).one()
    assert error == "ValueError: cannot handle this" and clock.now + timedelta(seconds=10) < next_at
    # Not due yet: running again changes nothing and writes no second note.
    again = outbox.deliver(factory=factory, organization_id=tenant.organization_id, registry=registry, now=clock)
    assert (again.delivered, again.retried) == (0, 0)
    for _ in range(3):
        clock.now += timedelta(hours=2)
        outbox.deliver(factory=factory, organization_id=tenant.organization_id, registry=registry, now=clock)
    owner_session.commit()
    assert _deliveries(owner_session, event_id) == {
        "test.note": ("done", 1), "test.flaky": ("done", 3), "test.broken": ("dead", 3)}
    assert _notes(owner_session, prospect) == 1


def test_a_failing_handler_leaves_none_of_its_writes(factory, tenant, owner_session):
    prospect = _prospect(tenant)
    event_id = _publish(factory, tenant, prospect)

    def half_done(*, db_session, event):
        _note(db_session=db_session, event=event)
        db_session.flush()
        raise RuntimeError("failed after writing")

    registry = outbox.Registry.of([
        outbox.Subscriber("test.half", frozenset({"prospect.qualified"}), half_done, max_attempts=1),
        outbox.Subscriber("test.note", frozenset({"prospect.qualified"}), _note),
    ])
    outbox.deliver(factory=factory, organization_id=tenant.organization_id, registry=registry)
    owner_session.commit()
    assert _deliveries(owner_session, event_id) == {"test.half": ("dead", 1), "test.note": ("done", 1)}
    assert _notes(owner_session, prospect) == 1  # the other subscriber's note only


def test_delivery_runs_bound_to_one_organization(factory, tenant, other_tenant, owner_session):
    ours, theirs = _prospect(tenant), _prospect(other_tenant)
    _publish(factory, tenant, ours)
    their_event = _publish(factory, other_tenant, theirs)
    seen = []

    def spy(*, db_session, event):
        seen.append(db_session.scalar(text("select count(*) from app.prospects where id = :id"), {"id": theirs.id}))

    registry = outbox.Registry.of([outbox.Subscriber("test.spy", frozenset({"prospect.qualified"}), spy)])
    outcome = outbox.deliver(factory=factory, organization_id=tenant.organization_id, registry=registry)
    assert outcome.delivered == 1 and seen == [0]  # the handler cannot see the other organization's rows
    dispatched = owner_session.scalar(text("select dispatched_at from app.domain_events where id = :id"),
                                      {"id": their_event})
    assert dispatched is None


def test_a_dedupe_key_publishes_once(factory, tenant, owner_session):
    prospect = _prospect(tenant)
    assert _publish(factory, tenant, prospect, dedupe_key="k1") is not None
    assert _publish(factory, tenant, prospect, dedupe_key="k1") is None
    assert _publish(factory, tenant, prospect, dedupe_key="k2") is not None
    assert owner_session.scalar(text("select count(*) from app.domain_events where organization_id = :org"),
                                {"org": tenant.organization_id}) == 2


def test_task_due_soon_is_published_once_per_due_time(settings, factory, tenant, owner_session):
    now = utcnow()
    soon = tenant.add(Task, type="call", title="Call Ada", due_at=now + timedelta(minutes=30), user_id=tenant.user.id)
    tenant.add(Task, type="call", title="Later", due_at=now + timedelta(hours=5))
    assert publish_all_due_soon(factory=factory, now=now) >= 1
    assert publish_all_due_soon(factory=factory, now=now) == 0
    rows = owner_session.execute(text("select subject_id, payload from app.domain_events where organization_id = :org"
                                      " and type = 'task.due_soon'"), {"org": tenant.organization_id}).all()
    assert [r.subject_id for r in rows] == [soon.id]
    assert rows[0].payload["assigneeId"] == str(tenant.user.id) and rows[0].payload["type"] == "call"
    with tenant.session() as session, session.begin():
        session.execute(text("update app.tasks set due_at = due_at + interval '10 minutes' where id = :id"),
                        {"id": soon.id})
    assert publish_all_due_soon(factory=factory, now=now) >= 1  # rescheduled: announced again


def test_catalogue_and_event_log_api(client, tenant, factory):
    catalogue = client.get("/api/v1/event-types", headers=tenant.viewer.headers)
    assert catalogue.status_code == 200
    types = {t["name"]: t for t in catalogue.json()["data"]}
    assert {"prospect.created", "deal.stage_changed", "email.replied", "intent.spike_detected",
            "lead.score_threshold_crossed", "task.due_soon", "meeting.scheduled"} <= set(types)
    assert "fromStage" in types["deal.stage_changed"]["payloadSchema"]["properties"]

    prospect = _prospect(tenant)
    event_id = _publish(factory, tenant, prospect)

    def broken(*, db_session, event):
        raise ValueError("nope")

    registry = outbox.Registry.of([outbox.Subscriber("test.broken", frozenset({"prospect.qualified"}), broken,
                                                     max_attempts=1)])
    outbox.deliver(factory=factory, organization_id=tenant.organization_id, registry=registry)
    assert client.get("/api/v1/domain-events", headers=tenant.user.headers).status_code == 403
    dead = client.get("/api/v1/domain-events?deliveryStatus=dead", headers=tenant.admin.headers).json()
    assert [e["id"] for e in dead["data"]] == [str(event_id)]
    assert dead["data"][0]["deliveries"][0]["lastError"] == "ValueError: nope"
    bad = client.get("/api/v1/domain-events?type=prospect.teleported", headers=tenant.admin.headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "VALIDATION_ERROR"
    url = f"/api/v1/domain-events/{event_id}/deliveries/test.broken/replay"
    replayed = client.post(url, headers=tenant.admin.headers)
    assert replayed.status_code == 200 and replayed.json()["status"] == "pending"
    assert replayed.json()["attempts"] == 0
    assert client.post(url, headers=tenant.admin.headers).status_code == 422  # only dead ones
    missing = client.post(f"/api/v1/domain-events/{uuid.uuid4()}/deliveries/x/replay", headers=tenant.admin.headers)
    assert missing.status_code == 404

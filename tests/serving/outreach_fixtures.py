"""Fixtures shared by the outreach tests (emails, cadences): a controllable clock, prospects, delivery."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from serving.emails import runner
from serving.emails.delivery.outbox import OutboxBackend
from serving.prospects.models import Prospect
from tests.factories import unique_email


class Clock:
    """A controllable `now` for services that take one."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        from datetime import timedelta

        self.now = self.now + timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def make_prospect(tenant):
    def _make(**values) -> Prospect:
        values.setdefault("email", unique_email("prospect"))
        values.setdefault("first_name", "Ada")
        values.setdefault("company", "Acme Inc")
        return tenant.add(Prospect, **values)

    return _make


@pytest.fixture
def deliver(app, settings):
    """Run the delivery loop for a tenant (what the worker's jobs do), against the outbox backend."""

    def _deliver(tenant, now=None, backend=None):
        outcome = runner.deliver_due(
            factory=app.state.session_factory,
            settings=settings,
            organization_id=tenant.organization_id,
            backend=backend or OutboxBackend(settings.outbox_dir),
            now=now,
        )
        # The worker then delivers the domain events the sends published (timeline, last-contacted date …).
        tenant.deliver_events()
        return outcome

    return _deliver

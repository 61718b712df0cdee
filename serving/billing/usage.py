"""Usage-based billing: e-mails sent per UTC day, reported to a Stripe Billing Meter (`STRIPE_USAGE_METER_EVENT`)
once a day for every organization with a live subscription.

Each day is reported once: the meter event's `identifier` (organization + day) makes a retried report a no-op at
Stripe, and `subscriptions.usage_reported_through` moves forward only after Stripe accepted it, so a day missed
while the worker was down is reported on the next run (days are reported oldest first, at most a week back)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import stripe
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from serving.billing import stripe_api
from serving.billing.models import Subscription
from serving.core.config import Settings
from serving.core.db import tenant_session

MAX_BACKFILL_DAYS = 7


def emails_sent(db_session: Session, day: date) -> int:
    start = datetime.combine(day, time.min, UTC)
    return db_session.scalar(text(
        "select count(*) from app.emails where sent_at >= :start and sent_at < :end"),
        {"start": start, "end": start + timedelta(days=1)})


def report(*, factory: sessionmaker[Session], settings: Settings, today: date) -> dict[str, int]:
    """Report every finished day not reported yet; returns organization id → days reported."""
    if not (stripe_api.configured(settings) and settings.stripe_usage_meter_event):
        return {}
    sc = stripe_api.client(settings)
    with factory() as session:
        organizations = list(session.scalars(text("select * from app.billing_metered_organizations()")))
    reported: dict[str, int] = {}
    for organization_id in organizations:
        reported[str(organization_id)] = _report_organization(factory, settings, sc, organization_id, today)
    return reported


def _report_organization(factory: sessionmaker[Session], settings: Settings, sc: stripe.StripeClient,
                         organization_id: uuid.UUID, today: date) -> int:
    days = 0
    with tenant_session(factory, organization_id) as session:
        row = session.query(Subscription).one()
        first = max(row.usage_reported_through + timedelta(days=1) if row.usage_reported_through
                    else today - timedelta(days=1), today - timedelta(days=MAX_BACKFILL_DAYS))
        day = first
        while day < today:
            value = emails_sent(session, day)
            sc.v1.billing.meter_events.create(params={
                "event_name": settings.stripe_usage_meter_event,
                "payload": {"stripe_customer_id": row.stripe_customer_id, "value": str(value)},
                "identifier": f"revorc-{organization_id}-{day.isoformat()}",
                "timestamp": int(datetime.combine(day, time.max, UTC).timestamp()),
            })
            row.usage_reported_through = day
            session.flush()
            days += 1
            day += timedelta(days=1)
    return days

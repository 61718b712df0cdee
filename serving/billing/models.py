"""Billing (seed 6.3): the organization's Stripe subscription, its invoices, and the Stripe events already applied
(so a redelivered event changes nothing). Tenant tables with row-level security; Stripe is the source of truth and
these rows are what its webhooks last said."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin
from serving.core.enums import check_in


class SubscriptionStatus(StrEnum):
    """Stripe's subscription statuses."""

    incomplete = "incomplete"
    incomplete_expired = "incomplete_expired"
    trialing = "trialing"
    active = "active"
    past_due = "past_due"
    canceled = "canceled"
    unpaid = "unpaid"
    paused = "paused"


class Subscription(IdMixin, Base):
    """One row per organization: its Stripe customer and current (or last) subscription."""

    __tablename__ = "subscriptions"
    __table_args__ = (check_in("status", SubscriptionStatus),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), unique=True)
    stripe_customer_id: Mapped[str] = mapped_column(Text, unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(Text, unique=True)
    stripe_price_id: Mapped[str | None] = mapped_column(Text)
    plan: Mapped[str] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(Text)
    current_period_start: Mapped[datetime | None]
    current_period_end: Mapped[datetime | None]
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False, server_default="false")
    canceled_at: Mapped[datetime | None]
    default_payment_method: Mapped[str | None] = mapped_column(Text)  # pm_… id
    card_brand: Mapped[str | None] = mapped_column(Text)
    card_last4: Mapped[str | None] = mapped_column(Text)
    # Stripe's `created` of the last subscription event applied: an older event arriving late is ignored
    last_event_at: Mapped[datetime | None]
    # usage-based billing: the last UTC day whose e-mails sent were reported to the Stripe meter
    usage_reported_through: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Invoice(IdMixin, Base):
    __tablename__ = "invoices"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    stripe_invoice_id: Mapped[str] = mapped_column(Text, unique=True)
    number: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(Text)  # draft, open, paid, uncollectible, void
    currency: Mapped[str] = mapped_column(Text)
    amount_due: Mapped[int] = mapped_column(BigInteger)  # minor units (cents), as Stripe sends them
    amount_paid: Mapped[int] = mapped_column(BigInteger)
    amount_remaining: Mapped[int] = mapped_column(BigInteger)
    hosted_invoice_url: Mapped[str | None] = mapped_column(Text)
    invoice_pdf: Mapped[str | None] = mapped_column(Text)
    period_start: Mapped[datetime | None]
    period_end: Mapped[datetime | None]
    issued_at: Mapped[datetime | None]  # Stripe's `created`
    paid_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class StripeEvent(Base):
    """A Stripe event applied once: its id is the key, so the same event delivered twice is a no-op."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(Text, primary_key=True)  # evt_…
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]  # Stripe's `created`
    processed_at: Mapped[datetime] = mapped_column(server_default=func.now())

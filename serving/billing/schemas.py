"""Billing API bodies and answers (camelCase); amounts in minor units (cents) as Stripe sends them, plan prices
in US dollars."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field

from serving.core.pagination import PaginationMeta
from serving.core.schemas import ApiModel, InputModel


class PlanOut(ApiModel):
    plan: str
    name: str
    monthly_price_usd: Decimal | None = Field(description="null: custom pricing")
    max_prospects: int | None = Field(description="null: unlimited")
    self_serve: bool = Field(description="can be bought with POST /billing/subscription/upgrade here")


class ProspectUsage(ApiModel):
    used: int
    limit: int | None
    over_limit: bool


class Usage(ApiModel):
    prospects: ProspectUsage


class PaymentMethodOut(ApiModel):
    brand: str | None
    last4: str | None


class SubscriptionOut(ApiModel):
    plan: str
    plan_name: str
    monthly_price_usd: Decimal | None
    status: str | None = Field(description="Stripe's subscription status; null without a subscription")
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    payment_method: PaymentMethodOut | None
    limits_enforced: bool = Field(description="false when the installation turned plan limits off")
    usage: Usage
    billing_configured: bool = Field(description="Stripe is configured on this installation")
    plans: list[PlanOut]


class UpgradeIn(InputModel):
    plan: Literal["starter", "pro"] = Field(description="a paid self-serve plan; Enterprise: contact sales")


class CancelIn(InputModel):
    at_period_end: bool = Field(default=True, description="keep the plan until the paid period ends")


class PaymentMethodIn(InputModel):
    payment_method_id: str = Field(min_length=3, max_length=255, pattern=r"^pm_[A-Za-z0-9_]+$",
                                   description="a PaymentMethod id created with Stripe.js / Elements")


class PortalOut(ApiModel):
    url: str


class InvoiceOut(ApiModel):
    id: uuid.UUID
    stripe_invoice_id: str
    number: str | None
    status: str | None
    currency: str
    amount_due: int
    amount_paid: int
    amount_remaining: int
    hosted_invoice_url: str | None
    invoice_pdf: str | None
    period_start: datetime | None
    period_end: datetime | None
    issued_at: datetime | None
    paid_at: datetime | None


class InvoicePage(ApiModel):
    data: list[InvoiceOut]
    pagination: PaginationMeta


class WebhookResult(ApiModel):
    received: bool = True
    outcome: str = Field(description="applied, duplicate (already applied) or ignored (not ours / not handled)")

"""/billing (seed 6.3): the plan, its limits and usage for every member; subscription changes, invoices, payment
methods and the Stripe Billing Portal for admins; Stripe's signed webhook (public, verified)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from serving.billing import service
from serving.billing.schemas import (
    CancelIn,
    InvoiceOut,
    InvoicePage,
    PaymentMethodIn,
    PaymentMethodOut,
    PortalOut,
    SubscriptionOut,
    UpgradeIn,
    WebhookResult,
)
from serving.core.deps import AdminPrincipal, AppSettings, CurrentPrincipal, DbSession
from serving.core.pagination import Pagination, paginate
from serving.organizations.models import Plan

router = APIRouter()
webhook_router = APIRouter()


def _overview(db, settings, principal) -> SubscriptionOut:
    return SubscriptionOut.model_validate(
        service.overview(db_session=db, settings=settings, organization_id=principal.organization_id))


@router.get("/subscription", response_model=SubscriptionOut,
            summary="The plan, its limits and usage, and the Stripe subscription if there is one")
def get_subscription(db: DbSession, principal: CurrentPrincipal, settings: AppSettings):
    return _overview(db, settings, principal)


@router.post("/subscription/upgrade", response_model=SubscriptionOut,
             summary="Move to a paid plan (new subscription, or the current one changed with proration)")
def upgrade(body: UpgradeIn, db: DbSession, principal: AdminPrincipal, settings: AppSettings):
    service.upgrade(db_session=db, settings=settings, principal=principal, plan=Plan(body.plan))
    return _overview(db, settings, principal)


@router.post("/subscription/cancel", response_model=SubscriptionOut,
             summary="Cancel the subscription (at the end of the paid period by default)")
def cancel(db: DbSession, principal: AdminPrincipal, settings: AppSettings, body: CancelIn | None = None):
    service.cancel(db_session=db, settings=settings, at_period_end=(body or CancelIn()).at_period_end)
    return _overview(db, settings, principal)


@router.get("/invoices", response_model=InvoicePage, summary="Invoices, newest first")
def invoices(db: DbSession, principal: AdminPrincipal, pagination: Pagination):
    items, meta = paginate(db, service.invoices_query(), pagination)
    return InvoicePage(data=[InvoiceOut.model_validate(i) for i in items], pagination=meta)


@router.post("/payment-method", response_model=PaymentMethodOut,
             summary="Make a payment method (from Stripe.js) the default for invoices and the subscription")
def payment_method(body: PaymentMethodIn, db: DbSession, principal: AdminPrincipal, settings: AppSettings):
    row = service.set_payment_method(db_session=db, settings=settings, principal=principal,
                                     payment_method_id=body.payment_method_id)
    return PaymentMethodOut(brand=row.card_brand, last4=row.card_last4)


@router.get("/portal", response_model=PortalOut, summary="A Stripe Billing Portal session for this organization")
def portal(db: DbSession, principal: AdminPrincipal, settings: AppSettings,
           return_url: Annotated[str | None, Query(alias="returnUrl", max_length=2000,
                                                   pattern=r"^https?://[^\s]+$",
                                                   description="where the portal's back link goes")] = None):
    url = service.portal_url(db_session=db, settings=settings, principal=principal,
                             return_url=return_url or settings.billing_return_url)
    return PortalOut(url=url)


@webhook_router.post("/billing/webhook/stripe", response_model=WebhookResult, tags=["billing"],
                     summary="Stripe webhook (Stripe-Signature verified with STRIPE_WEBHOOK_SECRET)")
async def stripe_webhook(request: Request, db: DbSession, settings: AppSettings) -> WebhookResult:
    event = service.verify(settings, await request.body(), request.headers.get("stripe-signature"))
    return WebhookResult(outcome=service.handle_event(db_session=db, settings=settings, event=event))

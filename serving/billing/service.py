"""Billing rules: the organization's plan and usage, Stripe customers and subscriptions (upgrade, downgrade with
proration, cancel at period end), payment methods, the Billing Portal, and Stripe's webhooks applied once each.

Stripe is the source of truth for what an organization pays for; `subscriptions`/`invoices` hold what its
webhooks last said, and `organizations.plan` (what the limits read, `serving.organizations.plans`) follows the
subscription: an active, trialing or past-due subscription (Stripe is still retrying) holds its plan; a canceled,
unpaid or expired one puts the organization back on Free. Calls that change a subscription apply Stripe's answer
at once too, so the API answers with the new state without waiting for the webhook.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import stripe
from sqlalchemy import Select, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from serving.billing import stripe_api
from serving.billing.models import Invoice, StripeEvent, Subscription
from serving.core import outbox
from serving.core.clock import utcnow
from serving.core.config import Settings
from serving.core.db import set_tenant
from serving.core.errors import AppError, Conflict, ValidationFailed
from serving.core.event_catalogue import BillingPaymentFailed, BillingPlanChanged
from serving.core.principal import Principal
from serving.organizations import plans
from serving.organizations.models import Organization, Plan
from serving.users.models import User

PAID_PLANS = (Plan.starter, Plan.pro)
# Statuses in which the subscription's plan applies (past_due: Stripe is retrying the payment; the plan holds
# until the subscription ends up canceled or unpaid, per the account's retry settings).
HOLDING = {"active", "trialing", "past_due"}
SUBSCRIPTION_EVENTS = {"customer.subscription.created", "customer.subscription.updated",
                       "customer.subscription.deleted", "customer.subscription.paused",
                       "customer.subscription.resumed"}
INVOICE_EVENTS = {"invoice.created", "invoice.finalized", "invoice.updated", "invoice.paid",
                  "invoice.payment_succeeded", "invoice.payment_failed", "invoice.voided",
                  "invoice.marked_uncollectible"}


def price_for(settings: Settings, plan: Plan) -> str | None:
    return {Plan.starter: settings.stripe_price_starter, Plan.pro: settings.stripe_price_pro}.get(plan)


def plan_for_price(settings: Settings, price_id: str | None) -> Plan | None:
    return next((p for p in PAID_PLANS if price_id and price_for(settings, p) == price_id), None)


def _ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


def get_subscription(*, db_session: Session) -> Subscription | None:
    """The caller's organization's row (row-level security binds it)."""
    return db_session.scalar(select(Subscription))


def overview(*, db_session: Session, settings: Settings, organization_id: uuid.UUID) -> dict[str, Any]:
    plan = plans.get_plan(db_session, organization_id)
    spec = plans.PLANS[plan]
    row = get_subscription(db_session=db_session)
    used = plans.prospect_count(db_session, organization_id)
    return {
        "plan": plan.value, "plan_name": spec.name, "monthly_price_usd": spec.monthly_price_usd,
        "status": row.status if row else None,
        "current_period_start": row.current_period_start if row else None,
        "current_period_end": row.current_period_end if row else None,
        "cancel_at_period_end": bool(row and row.cancel_at_period_end),
        "payment_method": ({"brand": row.card_brand, "last4": row.card_last4}
                           if row and row.card_last4 else None),
        "limits_enforced": settings.plan_limits_enabled,
        "usage": {"prospects": {"used": used, "limit": spec.max_prospects,
                                "over_limit": spec.max_prospects is not None and used > spec.max_prospects}},
        "billing_configured": stripe_api.configured(settings),
        "plans": [{"plan": p.plan.value, "name": p.name, "monthly_price_usd": p.monthly_price_usd,
                   "max_prospects": p.max_prospects,
                   "self_serve": p.plan in PAID_PLANS and price_for(settings, p.plan) is not None}
                  for p in plans.PLANS.values()],
    }


def _customer(db_session: Session, settings: Settings, principal: Principal, sc: stripe.StripeClient) -> Subscription:
    row = get_subscription(db_session=db_session)
    if row is not None:
        return row
    org = db_session.get(Organization, principal.organization_id)
    email = db_session.scalar(select(User.email).where(User.id == principal.user_id))  # the admin buying
    customer = sc.v1.customers.create(
        params={"name": org.name, "email": email, "metadata": {"organization_id": str(org.id)}},
        # one customer per organization even if this request is retried or raced
        options={"idempotency_key": f"revorc-customer-{org.id}"})
    row = Subscription(organization_id=org.id, stripe_customer_id=customer.id, plan=org.plan)
    db_session.add(row)
    db_session.flush()
    return row


def upgrade(*, db_session: Session, settings: Settings, principal: Principal, plan: Plan) -> None:
    """Move to a paid plan: a new subscription, or the current one's price changed with proration."""
    if plan == Plan.enterprise:
        raise Conflict("Enterprise is priced per contract: contact sales; an operator then sets the plan",
                       code="CONTACT_SALES")
    if plan == Plan.free:
        raise ValidationFailed("to go back to Free, cancel the subscription (POST /billing/subscription/cancel)",
                               code="USE_CANCEL", details={"field": "plan"})
    sc = stripe_api.client(settings)
    price = price_for(settings, plan)
    if price is None:
        raise Conflict(f"no Stripe price is configured for the {plan.value} plan "
                       f"(STRIPE_PRICE_{plan.value.upper()})", code="BILLING_NOT_CONFIGURED")
    try:
        row = _customer(db_session, settings, principal, sc)
        metadata = {"organization_id": str(principal.organization_id), "plan": plan.value}
        current = (sc.v1.subscriptions.retrieve(row.stripe_subscription_id)
                   if row.stripe_subscription_id and row.status not in (None, "canceled", "incomplete_expired")
                   else None)
        if current is not None:
            item = current["items"]["data"][0]
            subscription = sc.v1.subscriptions.update(current.id, params={
                "items": [{"id": item.id, "price": price}], "proration_behavior": "create_prorations",
                "cancel_at_period_end": False, "metadata": metadata})
        else:
            subscription = sc.v1.subscriptions.create(params={
                "customer": row.stripe_customer_id, "items": [{"price": price}], "metadata": metadata,
                # with a card on file Stripe charges now and a decline is an error (402); without one the first
                # invoice waits for payment (its hosted page, or the Billing Portal)
                "payment_behavior": "error_if_incomplete" if row.default_payment_method else "default_incomplete",
            }, options={"idempotency_key": f"revorc-subscribe-{row.id}-{plan.value}-{utcnow():%Y%m%d%H%M}"})
    except stripe.StripeError as exc:
        raise stripe_api.translate(exc) from exc
    _apply_subscription(db_session, settings, row, subscription, event_created=None)


def cancel(*, db_session: Session, settings: Settings, at_period_end: bool) -> None:
    sc = stripe_api.client(settings)
    row = get_subscription(db_session=db_session)
    if row is None or row.stripe_subscription_id is None or row.status in ("canceled", "incomplete_expired"):
        raise Conflict("this organization has no subscription to cancel", code="NO_SUBSCRIPTION")
    try:
        subscription = (sc.v1.subscriptions.update(row.stripe_subscription_id,
                                                   params={"cancel_at_period_end": True})
                        if at_period_end else sc.v1.subscriptions.cancel(row.stripe_subscription_id))
    except stripe.StripeError as exc:
        raise stripe_api.translate(exc) from exc
    _apply_subscription(db_session, settings, row, subscription, event_created=None)


def set_payment_method(*, db_session: Session, settings: Settings, principal: Principal,
                       payment_method_id: str) -> Subscription:
    """Attach a payment method (created by Stripe.js / Elements on the client) and make it the default for
    invoices and for the subscription."""
    sc = stripe_api.client(settings)
    try:
        row = _customer(db_session, settings, principal, sc)
        method = sc.v1.payment_methods.attach(payment_method_id, params={"customer": row.stripe_customer_id})
        sc.v1.customers.update(row.stripe_customer_id,
                               params={"invoice_settings": {"default_payment_method": method.id}})
        if row.stripe_subscription_id and row.status not in ("canceled", "incomplete_expired"):
            sc.v1.subscriptions.update(row.stripe_subscription_id, params={"default_payment_method": method.id})
    except stripe.StripeError as exc:
        raise stripe_api.translate(exc) from exc
    card = method.to_dict().get("card") or {}
    row.default_payment_method, row.card_brand, row.card_last4 = method.id, card.get("brand"), card.get("last4")
    row.updated_at = utcnow()
    return row


def portal_url(*, db_session: Session, settings: Settings, principal: Principal, return_url: str) -> str:
    sc = stripe_api.client(settings)
    try:
        row = _customer(db_session, settings, principal, sc)
        session = sc.v1.billing_portal.sessions.create(
            params={"customer": row.stripe_customer_id, "return_url": return_url})
    except stripe.StripeError as exc:
        raise stripe_api.translate(exc) from exc
    return session.url


def invoices_query() -> Select:
    return select(Invoice).order_by(Invoice.issued_at.desc().nulls_last(), Invoice.id)


# -- Stripe's webhook ------------------------------------------------------------------------------------------


class InvalidSignature(AppError):
    status_code = 400
    code = "INVALID_SIGNATURE"


def verify(settings: Settings, payload: bytes, signature: str | None) -> stripe.Event:
    """The event, verified with the SDK's verifier (HMAC-SHA256 over `t.payload`, 300 s tolerance)."""
    if settings.stripe_webhook_secret is None:
        raise Conflict("STRIPE_WEBHOOK_SECRET is not configured: Stripe events cannot be verified",
                       code="BILLING_NOT_CONFIGURED")
    if not signature:
        raise InvalidSignature("the Stripe-Signature header is missing")
    try:
        return stripe.Webhook.construct_event(payload, signature, settings.stripe_webhook_secret.get_secret_value())
    except stripe.SignatureVerificationError as exc:
        raise InvalidSignature(f"the Stripe signature does not verify: {exc.user_message or exc}") from None
    except ValueError as exc:  # not JSON
        raise ValidationFailed(f"the event body is not valid JSON: {exc}", code="INVALID_BODY") from None


def _organization_of(db_session: Session, obj: dict) -> uuid.UUID | None:
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    if obj.get("object") == "customer":
        customer = obj.get("id")
    if customer:
        found = db_session.scalar(text("select app.billing_customer_organization(:c)"), {"c": customer})
        if found:
            return found
    # a subscription or checkout session we created carries the organization in its metadata
    for source in (obj.get("metadata") or {}, {"organization_id": obj.get("client_reference_id")}):
        try:
            return uuid.UUID(str(source.get("organization_id")))
        except ValueError:
            continue
    return None


def handle_event(*, db_session: Session, settings: Settings, event: stripe.Event) -> str:
    """Apply one verified event once; returns what happened (applied, duplicate, ignored)."""
    payload = event.to_dict()
    obj = payload["data"]["object"]
    if payload["type"] not in SUBSCRIPTION_EVENTS | INVOICE_EVENTS | {"checkout.session.completed"}:
        return "ignored"
    organization_id = _organization_of(db_session, obj)
    if organization_id is None:
        return "ignored"  # not one of ours (another system's customer on the same Stripe account)
    set_tenant(db_session, organization_id)
    if db_session.get(Organization, organization_id) is None:
        return "ignored"
    new = db_session.execute(insert(StripeEvent).values(
        id=payload["id"], organization_id=organization_id, type=payload["type"], created_at=_ts(payload["created"]),
    ).on_conflict_do_nothing(index_elements=[StripeEvent.id]).returning(StripeEvent.id)).first()
    if new is None:
        return "duplicate"
    created = _ts(payload["created"])
    if payload["type"] == "checkout.session.completed":
        if obj.get("customer"):
            _link_customer(db_session, organization_id, obj["customer"])
    elif payload["type"] in SUBSCRIPTION_EVENTS:
        row = _link_customer(db_session, organization_id, obj["customer"])
        _apply_subscription(db_session, settings, row, obj, event_created=created)
    else:
        _apply_invoice(db_session, organization_id, obj, failed=payload["type"] == "invoice.payment_failed")
    return "applied"


def _link_customer(db_session: Session, organization_id: uuid.UUID, customer: Any) -> Subscription:
    customer_id = customer.get("id") if isinstance(customer, dict) else customer
    row = get_subscription(db_session=db_session)
    if row is None:
        row = Subscription(organization_id=organization_id, stripe_customer_id=customer_id,
                           plan=plans.get_plan(db_session, organization_id).value)
        db_session.add(row)
        db_session.flush()
    return row


def _apply_subscription(db_session: Session, settings: Settings, row: Subscription, sub: Any,
                        *, event_created: datetime | None) -> None:
    sub = sub.to_dict() if hasattr(sub, "to_dict") else sub
    if event_created is not None and row.last_event_at is not None and event_created < row.last_event_at:
        return  # Stripe does not promise order: an older state arriving late is not applied
    if (row.stripe_subscription_id and sub["id"] != row.stripe_subscription_id
            and row.status not in (None, "canceled", "incomplete_expired") and sub.get("status") == "canceled"):
        return  # the end of a replaced subscription does not undo the current one
    item = ((sub.get("items") or {}).get("data") or [{}])[0]
    price_id = (item.get("price") or {}).get("id")
    row.stripe_subscription_id, row.stripe_price_id, row.status = sub["id"], price_id, sub.get("status")
    # API versions from 2025-03-31 carry the billing period on the item, earlier ones on the subscription
    row.current_period_start = _ts(item.get("current_period_start") or sub.get("current_period_start"))
    row.current_period_end = _ts(item.get("current_period_end") or sub.get("current_period_end"))
    row.cancel_at_period_end = bool(sub.get("cancel_at_period_end"))
    row.canceled_at = _ts(sub.get("canceled_at"))
    if sub.get("default_payment_method") and isinstance(sub["default_payment_method"], str):
        row.default_payment_method = sub["default_payment_method"]
    if event_created is not None:
        row.last_event_at = event_created
    row.updated_at = utcnow()
    paid = plan_for_price(settings, price_id) or _plan_from_metadata(sub)
    target = paid if (row.status in HOLDING and paid is not None) else Plan.free
    if row.status in ("incomplete",):
        target = plans.get_plan(db_session, row.organization_id)  # nothing paid yet: no change either way
    row.plan = target.value
    _set_plan(db_session, row.organization_id, target, status=row.status)


def _plan_from_metadata(sub: dict) -> Plan | None:
    value = (sub.get("metadata") or {}).get("plan")
    return Plan(value) if value in (p.value for p in PAID_PLANS) else None


def _set_plan(db_session: Session, organization_id: uuid.UUID, plan: Plan, *, status: str | None) -> None:
    previous = plans.get_plan(db_session, organization_id)
    if previous == plan:
        return
    plans.set_plan(db_session, organization_id, plan)
    outbox.publish(db_session, organization_id=organization_id, type="billing.plan_changed",
                   subject_id=organization_id,
                   payload=BillingPlanChanged(from_plan=previous.value, to_plan=plan.value, status=status,
                                              source="stripe"))


def _apply_invoice(db_session: Session, organization_id: uuid.UUID, obj: dict, *, failed: bool) -> None:
    transitions = obj.get("status_transitions") or {}
    values = {
        "number": obj.get("number"), "status": obj.get("status"), "currency": obj.get("currency") or "usd",
        "amount_due": obj.get("amount_due") or 0, "amount_paid": obj.get("amount_paid") or 0,
        "amount_remaining": obj.get("amount_remaining") or 0, "hosted_invoice_url": obj.get("hosted_invoice_url"),
        "invoice_pdf": obj.get("invoice_pdf"), "period_start": _ts(obj.get("period_start")),
        "period_end": _ts(obj.get("period_end")), "issued_at": _ts(obj.get("created")),
        "paid_at": _ts(transitions.get("paid_at")), "updated_at": utcnow(),
    }
    db_session.execute(insert(Invoice).values(organization_id=organization_id, stripe_invoice_id=obj["id"], **values)
                       .on_conflict_do_update(index_elements=[Invoice.stripe_invoice_id], set_=values))
    if failed:
        outbox.publish(db_session, organization_id=organization_id, type="billing.payment_failed",
                       subject_id=organization_id, dedupe_key=f"billing.payment_failed:{obj['id']}:"
                       f"{obj.get('attempt_count')}",
                       payload=BillingPaymentFailed(invoice_id=obj["id"], amount_due=obj.get("amount_due") or 0,
                                                    currency=obj.get("currency") or "usd",
                                                    attempt_count=obj.get("attempt_count"),
                                                    hosted_invoice_url=obj.get("hosted_invoice_url")))

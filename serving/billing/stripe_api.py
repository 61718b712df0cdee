"""The Stripe client and what its errors mean to our callers. The official `stripe` SDK does every call; tests
point `STRIPE_API_BASE` at a local server speaking Stripe's documented wire format."""

from __future__ import annotations

import stripe

from serving.core.config import Settings
from serving.core.errors import AppError, Conflict, ServiceUnavailable, ValidationFailed


class PaymentFailed(AppError):
    status_code = 402
    code = "PAYMENT_FAILED"


def configured(settings: Settings) -> bool:
    return settings.stripe_secret_key is not None


def client(settings: Settings) -> stripe.StripeClient:
    if settings.stripe_secret_key is None:
        raise Conflict("billing with Stripe is not configured on this installation (STRIPE_SECRET_KEY); an operator "
                       "can set a plan with `revorc set-plan`", code="BILLING_NOT_CONFIGURED")
    base = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
    # The SDK retries connection errors and 409/429/5xx itself with backoff and idempotency keys (stripe docs,
    # "Automatic retries"); two retries keep a request within the API's own timeouts.
    return stripe.StripeClient(settings.stripe_secret_key.get_secret_value(), base_addresses=base,
                               max_network_retries=2)


def translate(exc: stripe.StripeError) -> AppError:
    """A Stripe failure as the caller should see it: a declined card is the user's to fix (402), a request Stripe
    refused names what was wrong (422), anything else is Stripe being unreachable or misconfigured (503)."""
    message = exc.user_message or str(exc) or type(exc).__name__
    details = {"stripeCode": exc.code, "stripeRequestId": exc.request_id}
    if isinstance(exc, stripe.CardError):
        return PaymentFailed(f"the card was declined: {message}", details=details)
    if isinstance(exc, stripe.InvalidRequestError):
        return ValidationFailed(f"Stripe refused the request: {message}", code="STRIPE_REJECTED",
                                details={**details, "param": exc.param})
    return ServiceUnavailable(f"Stripe is unavailable or refused our credentials: {message}",
                              code="BILLING_UNAVAILABLE", details=details)

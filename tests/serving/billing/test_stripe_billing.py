"""Billing with Stripe (seed 6.3): the official SDK against a local Stripe speaking its wire format; webhooks
signed as Stripe signs them and verified by the SDK; the same event twice changes nothing; tenancy."""

from __future__ import annotations

import time
from datetime import date, timedelta

import stripe
from sqlalchemy import select, text

from serving.billing import usage
from serving.billing.models import Invoice, Subscription
from serving.core.db import session_factory
from serving.organizations.models import Organization
from tests.serving.billing.conftest import (
    API,
    PRICES,
    SECRET,
    WEBHOOK,
    event,
    post_event,
    subscription_event,
)
from tests.serving.billing.fake_stripe import DECLINED


def plan_of(tenant) -> str:
    with tenant.session() as session:
        return session.get(Organization, tenant.organization_id).plan


def events_of(tenant, kind: str) -> list[dict]:
    with tenant.session() as session:
        return [row[0] for row in session.execute(text(
            "select payload from app.domain_events where organization_id = :org and type = :t order by occurred_at"),
            {"org": tenant.organization_id, "t": kind})]


def upgrade(client, tenant, plan: str):
    return client.post(f"{API}/subscription/upgrade", json={"plan": plan}, headers=tenant.admin.headers)


def customer_of(tenant) -> str:
    with tenant.session() as session:
        return session.scalar(select(Subscription.stripe_customer_id)
                              .where(Subscription.organization_id == tenant.organization_id))


def test_upgrade_creates_customer_and_subscription_and_sets_the_plan(billing_client, tenant, fake):
    response = upgrade(billing_client, tenant, "starter")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["plan"], body["status"], body["usage"]["prospects"]["limit"]) == ("starter", "active", 1000)
    (customer_call,) = fake.called("POST", "/v1/customers")
    assert customer_call.params["metadata"] == {"organization_id": str(tenant.organization_id)}
    assert customer_call.idempotency_key == f"revorc-customer-{tenant.organization_id}"
    (sub_call,) = fake.called("POST", "/v1/subscriptions")
    assert sub_call.params["items"] == [{"price": PRICES["starter"]}]
    assert sub_call.params["payment_behavior"] == "default_incomplete"  # no card on file yet
    assert plan_of(tenant) == "starter"
    assert events_of(tenant, "billing.plan_changed")[-1] == {"fromPlan": "free", "toPlan": "starter",
                                                             "status": "active", "source": "stripe"}


def test_changing_plan_updates_the_subscription_item_with_proration(billing_client, tenant, fake):
    upgrade(billing_client, tenant, "starter")
    response = upgrade(billing_client, tenant, "pro")
    assert response.json()["plan"] == "pro"
    assert len(fake.called("POST", "/v1/subscriptions")) == 1  # the same subscription, changed
    (change,) = fake.called("POST", r"/v1/subscriptions/sub_\w+")
    assert change.params["proration_behavior"] == "create_prorations"
    assert change.params["items"][0]["price"] == PRICES["pro"] and change.params["items"][0]["id"].startswith("si_")


def test_an_incomplete_subscription_changes_nothing_until_stripe_says_it_is_paid(billing_client, tenant, fake):
    fake.new_status = "incomplete"
    assert upgrade(billing_client, tenant, "pro").json()["plan"] == "free"
    sub_id = next(iter(s for s, v in fake.subscriptions.items() if v["customer"] == customer_of(tenant)))
    paid = subscription_event("customer.subscription.updated", event_id=f"evt_paid_{sub_id}",
                              customer=customer_of(tenant), price=PRICES["pro"], status="active",
                              subscription_id=sub_id, created=int(time.time()))
    assert post_event(billing_client, paid).json() == {"received": True, "outcome": "applied"}
    assert plan_of(tenant) == "pro"


def test_the_same_event_twice_changes_nothing(billing_client, tenant, fake):
    upgrade(billing_client, tenant, "starter")
    customer = customer_of(tenant)
    ended = subscription_event("customer.subscription.deleted", event_id=f"evt_end_{customer}", customer=customer,
                               price=PRICES["starter"], status="canceled", subscription_id=_sub(tenant),
                               created=int(time.time()) + 5)
    assert post_event(billing_client, ended).json()["outcome"] == "applied"
    assert plan_of(tenant) == "free"
    upgrade(billing_client, tenant, "pro")
    assert plan_of(tenant) == "pro"
    assert post_event(billing_client, ended).json()["outcome"] == "duplicate"
    assert plan_of(tenant) == "pro"  # the redelivered end of the old subscription did not undo the new one
    assert [e["toPlan"] for e in events_of(tenant, "billing.plan_changed")] == ["starter", "free", "pro"]


def _sub(tenant) -> str:
    with tenant.session() as session:
        return session.scalar(select(Subscription.stripe_subscription_id)
                              .where(Subscription.organization_id == tenant.organization_id))


def test_an_older_event_arriving_late_is_not_applied(billing_client, tenant, fake):
    upgrade(billing_client, tenant, "pro")
    customer, sub_id, now = customer_of(tenant), _sub(tenant), int(time.time())
    newer = subscription_event("customer.subscription.updated", event_id=f"evt_new_{sub_id}", customer=customer,
                               price=PRICES["pro"], status="active", subscription_id=sub_id, created=now + 10)
    older = subscription_event("customer.subscription.updated", event_id=f"evt_old_{sub_id}", customer=customer,
                               price=PRICES["starter"], status="active", subscription_id=sub_id, created=now + 5)
    post_event(billing_client, newer)
    assert post_event(billing_client, older).json()["outcome"] == "applied"  # recorded, but stale
    assert plan_of(tenant) == "pro"


def test_cancel_at_period_end_keeps_the_plan_until_stripe_ends_it(billing_client, tenant, fake):
    upgrade(billing_client, tenant, "starter")
    body = billing_client.post(f"{API}/subscription/cancel", json={}, headers=tenant.admin.headers).json()
    assert (body["plan"], body["cancelAtPeriodEnd"]) == ("starter", True)
    (cancel,) = [c for c in fake.called("POST", r"/v1/subscriptions/sub_\w+") if "cancel_at_period_end" in c.params]
    assert cancel.params["cancel_at_period_end"] == "true"
    now = billing_client.post(f"{API}/subscription/cancel", json={"atPeriodEnd": False},
                              headers=tenant.admin.headers).json()
    assert (now["plan"], now["status"]) == ("free", "canceled")
    again = billing_client.post(f"{API}/subscription/cancel", json={}, headers=tenant.admin.headers)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "NO_SUBSCRIPTION")


def test_payment_method_default_and_a_declined_card(billing_client, tenant, fake):
    ok = billing_client.post(f"{API}/payment-method", json={"paymentMethodId": "pm_card_visa"},
                             headers=tenant.admin.headers)
    assert ok.json() == {"brand": "visa", "last4": "4242"}
    (update,) = fake.called("POST", r"/v1/customers/cus_\w+")
    assert update.params["invoice_settings"] == {"default_payment_method": "pm_card_visa"}
    upgrade(billing_client, tenant, "starter")
    assert fake.called("POST", "/v1/subscriptions")[-1].params["payment_behavior"] == "error_if_incomplete"
    declined = billing_client.post(f"{API}/payment-method", json={"paymentMethodId": DECLINED},
                                   headers=tenant.admin.headers)
    assert (declined.status_code, declined.json()["error"]["code"]) == (402, "PAYMENT_FAILED")
    assert "declined" in declined.json()["error"]["message"]
    bad = billing_client.post(f"{API}/payment-method", json={"paymentMethodId": "card 4242"},
                              headers=tenant.admin.headers)
    assert bad.status_code == 422


def test_portal_session(billing_client, tenant, fake):
    body = billing_client.get(f"{API}/portal", params={"returnUrl": "https://crm.example.com/billing"},
                              headers=tenant.admin.headers).json()
    assert body["url"] == f"https://billing.stripe.com/p/session/test_{customer_of(tenant)}"
    (call,) = fake.called("POST", "/v1/billing_portal/sessions")
    assert call.params["return_url"] == "https://crm.example.com/billing"


def test_stripe_down_is_a_clear_503_and_nothing_is_half_written(billing_client, tenant, fake):
    fake.down = True
    response = upgrade(billing_client, tenant, "pro")
    assert (response.status_code, response.json()["error"]["code"]) == (503, "BILLING_UNAVAILABLE")
    assert plan_of(tenant) == "free" and customer_of(tenant) is None


def test_only_admins_change_billing_members_read_the_plan(billing_client, tenant, fake):
    assert billing_client.get(f"{API}/subscription", headers=tenant.user.headers).status_code == 200
    for method, path, body in (("post", "/subscription/upgrade", {"plan": "pro"}),
                               ("post", "/subscription/cancel", {}), ("get", "/invoices", None),
                               ("get", "/portal", None), ("post", "/payment-method", {"paymentMethodId": "pm_x"})):
        response = getattr(billing_client, method)(f"{API}{path}", headers=tenant.user.headers,
                                                   **({"json": body} if body is not None else {}))
        assert response.status_code == 403, (path, response.text)
    assert fake.calls == []
    refused = billing_client.post(f"{API}/subscription/upgrade", json={"plan": "enterprise"},
                                  headers=tenant.admin.headers)
    assert refused.status_code == 422  # Enterprise is not self-serve: the body names starter or pro


def test_webhook_signature_is_required_and_verified(billing_client):
    payload = event("invoice.paid", event_id="evt_sig_check")
    assert post_event(billing_client, payload, secret="whsec_wrong").json()["error"]["code"] == "INVALID_SIGNATURE"
    stale = post_event(billing_client, payload, timestamp=int(time.time()) - 3600)
    assert (stale.status_code, stale.json()["error"]["code"]) == (400, "INVALID_SIGNATURE")
    missing = billing_client.post(WEBHOOK, content=b"{}")
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, "INVALID_SIGNATURE")


def test_the_signature_vector_verifies_with_the_sdk():
    import json
    from pathlib import Path

    vector = json.loads((Path(__file__).resolve().parents[2] / "fixtures" / "stripe" /
                         "webhook_signature_vector_derived.json").read_text())
    assert stripe.WebhookSignature.verify_header(vector["payload"], vector["header"], SECRET, tolerance=None)
    wrong = vector["negative"]["header_wrong_secret"]
    try:
        stripe.WebhookSignature.verify_header(vector["payload"], wrong, SECRET, tolerance=None)
    except stripe.SignatureVerificationError:
        pass
    else:
        raise AssertionError("a signature made with another secret verified")


def test_an_event_for_a_customer_we_do_not_know_is_acknowledged_and_ignored(billing_client):
    payload = event("invoice.paid", event_id="evt_not_ours", customer="cus_someone_else")
    assert post_event(billing_client, payload).json() == {"received": True, "outcome": "ignored"}


def test_invoices_from_webhooks_and_a_failed_payment_tells_the_admins(billing_client, tenant, other_tenant, fake):
    upgrade(billing_client, tenant, "pro")
    customer = customer_of(tenant)
    failed = event("invoice.payment_failed", event_id=f"evt_fail_{customer}", customer=customer,
                   id=f"in_fail_{customer}")
    paid = event("invoice.paid", event_id=f"evt_paid_inv_{customer}", customer=customer, id=f"in_paid_{customer}")
    for payload in (failed, paid):
        assert post_event(billing_client, payload).json()["outcome"] == "applied"
    page = billing_client.get(f"{API}/invoices", headers=tenant.admin.headers).json()
    assert {(i["stripeInvoiceId"], i["status"], i["amountDue"]) for i in page["data"]} == {
        (f"in_fail_{customer}", "open", 24900), (f"in_paid_{customer}", "paid", 24512)}
    assert page["pagination"]["total"] == 2
    (payment_failed,) = events_of(tenant, "billing.payment_failed")
    assert (payment_failed["invoiceId"], payment_failed["amountDue"]) == (f"in_fail_{customer}", 24900)
    # tenancy: another organization's admin sees none of it, and its plan did not move
    other = billing_client.get(f"{API}/invoices", headers=other_tenant.admin.headers).json()
    assert other["data"] == [] and plan_of(other_tenant) == "free"


def test_usage_is_reported_to_the_meter_once_per_day(billing_settings, billing_client, tenant, fake):
    upgrade(billing_client, tenant, "pro")
    yesterday = date.today() - timedelta(days=1)
    with tenant.session() as session, session.begin():
        session.execute(text(
            "insert into app.emails (id, organization_id, \"to\", from_email, subject, status, sent_at, message_id)"
            " select gen_random_uuid(), :org, '[\"x@example.com\"]', 'me@example.com', 's', 'sent', :at, "
            " 'm' || g || '@example.com' from generate_series(1, 3) g"),
            {"org": tenant.organization_id, "at": f"{yesterday.isoformat()}T12:00:00Z"})
    factory = session_factory(billing_settings.api_database_url)
    first = usage.report(factory=factory, settings=billing_settings, today=date.today())
    assert first[str(tenant.organization_id)] == 1
    (meter,) = [m for m in fake.meter_events if m["payload"]["stripe_customer_id"] == customer_of(tenant)]
    assert meter["payload"]["value"] == "3" and meter["event_name"] == "revorc_emails_sent"
    assert meter["identifier"] == f"revorc-{tenant.organization_id}-{yesterday.isoformat()}"
    again = usage.report(factory=factory, settings=billing_settings, today=date.today())
    assert again[str(tenant.organization_id)] == 0


def test_invoice_rows_are_tenant_rows(billing_client, tenant, fake):
    upgrade(billing_client, tenant, "starter")
    customer = customer_of(tenant)
    post_event(billing_client, event("invoice.paid", event_id=f"evt_t_{customer}", customer=customer,
                                     id=f"in_t_{customer}"))
    with tenant.session() as session:
        (row,) = session.scalars(select(Invoice).where(Invoice.stripe_invoice_id == f"in_t_{customer}"))
        assert row.organization_id == tenant.organization_id

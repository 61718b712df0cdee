"""Billing tests: an app with plan limits on and Stripe pointed at a local fake (`fake_stripe.py`), and Stripe
webhook events signed the way Stripe signs them (HMAC-SHA256 keyed with the whole `whsec_…` secret over
`"{t}.{body}"`), verified by the SDK's own verifier in the app."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving.main import create_app
from tests.conftest import make_settings
from tests.serving.billing import fake_stripe

API = "/api/v1/billing"
WEBHOOK = "/api/v1/billing/webhook/stripe"
SECRET = "whsec_test_secret"
PRICES = {"starter": "price_starter_monthly", "pro": "price_pro_monthly"}
EVENTS = {e["type"]: e for e in json.loads(
    (Path(__file__).resolve().parents[2] / "fixtures" / "stripe" / "webhook_events_assembled.json").read_text())}


@pytest.fixture(scope="session")
def stripe_fake():
    with fake_stripe.running() as state:
        yield state


@pytest.fixture
def fake(stripe_fake):
    stripe_fake.calls.clear()
    stripe_fake.meter_events.clear()
    stripe_fake.new_status, stripe_fake.down = "active", False
    return stripe_fake


@pytest.fixture(scope="session")
def billing_settings(database, state_dir, stripe_fake):
    return make_settings(database, state_dir, PLAN_LIMITS_ENABLED="true", STRIPE_SECRET_KEY="sk_test_fake",
                         STRIPE_WEBHOOK_SECRET=SECRET, STRIPE_API_BASE=stripe_fake.base,
                         STRIPE_PRICE_STARTER=PRICES["starter"], STRIPE_PRICE_PRO=PRICES["pro"],
                         STRIPE_USAGE_METER_EVENT="revorc_emails_sent")


@pytest.fixture(scope="session")
def billing_client(billing_settings):
    with TestClient(create_app(billing_settings)) as client:
        yield client


@pytest.fixture(scope="session")
def limits_client(database, state_dir):
    """Plan limits on, no Stripe: what a self-hosted install with limits looks like."""
    with TestClient(create_app(make_settings(database, state_dir, PLAN_LIMITS_ENABLED="true"))) as client:
        yield client


def sign(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event(kind: str, *, event_id: str, created: int | None = None, **changes) -> dict:
    """A fixture event of `kind` with its object's fields replaced by `changes`."""
    found = copy.deepcopy(EVENTS[kind])
    found["id"] = event_id
    if created is not None:
        found["created"] = created
    found["data"]["object"].update(changes)
    return found


def subscription_event(kind: str, *, event_id: str, customer: str, price: str, status: str,
                       created: int | None = None, subscription_id: str = "sub_webhook1", **changes) -> dict:
    found = event(kind, event_id=event_id, created=created, customer=customer, status=status, id=subscription_id,
                  **changes)
    item = found["data"]["object"]["items"]["data"][0]
    item["price"] = {**item["price"], "id": price}
    return found


def post_event(client, payload: dict, *, secret: str = SECRET, timestamp: int | None = None):
    body = json.dumps(payload).encode()
    return client.post(WEBHOOK, content=body, headers={"Stripe-Signature": sign(body, secret, timestamp),
                                                       "Content-Type": "application/json"})

"""The plan and billing page (AppTest) against a real API server whose Stripe is the local fake: members see the
plan and its usage; admins switch plans and open the portal through the API; without Stripe the page says how
plans are set instead."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import make_settings
from tests.dashboards.apptest import api_for, open_page
from tests.serving.billing import fake_stripe


@pytest.fixture(scope="module")
def stripe_api() -> Iterator[fake_stripe.FakeStripe]:
    with fake_stripe.running() as state:
        yield state


@pytest.fixture(scope="module")
def api(database, state_dir, stripe_api) -> Iterator[str]:
    settings = make_settings(database, state_dir, PLAN_LIMITS_ENABLED="true", STRIPE_SECRET_KEY="sk_test_page",
                             STRIPE_API_BASE=stripe_api.base, STRIPE_PRICE_STARTER="price_s",
                             STRIPE_PRICE_PRO="price_p")
    with api_for(settings) as url:
        yield url


def page(member) -> AppTest:
    return open_page(member, "billing")


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_a_member_sees_the_plan_and_its_usage_but_no_buttons(api, tenant):
    httpx.post(f"{api}/api/v1/prospects", json={"email": "page@example.com"}, headers=tenant.user.headers)
    at = page(tenant.user)
    assert (metric(at, "Plan"), metric(at, "Prospects"), metric(at, "Limit")) == ("Free", "1", "100")
    assert "1% of the Free plan's prospects used" in at.get("progress")[0].proto.text
    assert not [b for b in at.button if b.label.startswith("Switch to")]
    assert any("Only admins change the plan." in c.value for c in at.caption)


def test_an_admin_switches_plan_through_the_api(api, tenant, stripe_api):
    at = page(tenant.admin)
    next(b for b in at.button if b.label == "Switch to Pro").click().run()
    assert at.success[0].value == "Moved to Pro."
    assert metric(at, "Plan") == "Pro" and metric(at, "Limit") == "10,000"
    assert stripe_api.called("POST", "/v1/subscriptions")[-1].params["items"] == [{"price": "price_p"}]
    assert httpx.get(f"{api}/api/v1/billing/subscription", headers=tenant.viewer.headers).json()["plan"] == "pro"


def test_without_stripe_the_page_says_how_plans_are_set(settings, tenant):
    with api_for(settings):
        at = page(tenant.admin)
    assert any("revorc set-plan" in i.value for i in at.info)
    assert any("turned off" in i.value for i in at.info)  # the shared test app runs without limits

"""Plan limits (seed 6.3) enforced locally whether or not Stripe is configured: at the boundary, on every path
that creates prospects (one at a time, CSV imports all-or-nothing), with a clear PLAN_LIMIT_REACHED; off for a
self-hosted install that sets PLAN_LIMITS_ENABLED=false; unlimited on Enterprise."""

from __future__ import annotations

from sqlalchemy import func, select, text

from serving.organizations.models import Organization
from serving.prospects.models import Prospect
from tests.serving.billing.conftest import API

CSV_HEADER = "email,first_name,last_name,company\n"


def fill(tenant, n: int) -> None:
    with tenant.session() as session, session.begin():
        session.execute(text(
            "insert into app.prospects (id, organization_id, email, first_name) "
            "select gen_random_uuid(), :org, 'held' || g || '@example.com', 'Held' from generate_series(1, :n) g"),
            {"org": tenant.organization_id, "n": n})


def set_plan(tenant, plan: str) -> None:
    with tenant.session() as session, session.begin():
        session.get(Organization, tenant.organization_id).plan = plan


def count(tenant) -> int:
    with tenant.session() as session:
        return session.scalar(select(func.count()).select_from(Prospect)
                              .where(Prospect.organization_id == tenant.organization_id))


def create(client, tenant, email: str):
    return client.post("/api/v1/prospects", json={"email": email, "firstName": "New"}, headers=tenant.user.headers)


def test_the_hundredth_prospect_is_allowed_and_the_next_refused_with_the_upgrade_path(limits_client, tenant):
    fill(tenant, 99)
    assert create(limits_client, tenant, "the-100th@example.com").status_code == 201
    refused = create(limits_client, tenant, "the-101st@example.com")
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "PLAN_LIMIT_REACHED"
    assert error["details"] == {"resource": "prospects", "limit": 100, "current": 100, "adding": 1,
                                "plan": "free", "upgradeTo": "starter",
                                "upgradePath": "/api/v1/billing/subscription/upgrade"}
    assert "Free plan allows 100 prospects" in error["message"]
    assert count(tenant) == 100


def test_an_import_that_would_cross_the_limit_stores_nothing(limits_client, tenant):
    fill(tenant, 98)
    rows = "".join(f"new{i}@example.com,N,{i},Acme\n" for i in range(3))
    response = limits_client.post("/api/v1/prospects/import", headers=tenant.user.headers,
                                  files={"file": ("p.csv", CSV_HEADER + rows, "text/csv")})
    assert response.status_code == 402, response.text
    assert response.json()["error"]["details"]["current"] == 101
    assert count(tenant) == 98  # all or nothing per file


def test_an_import_that_only_updates_passes_at_the_limit(limits_client, tenant):
    fill(tenant, 100)
    rows = "held1@example.com,Changed,Name,Acme\n"
    response = limits_client.post("/api/v1/prospects/import", headers=tenant.user.headers,
                                  files={"file": ("p.csv", CSV_HEADER + rows, "text/csv")})
    assert response.status_code == 200, response.text
    assert count(tenant) == 100


def test_a_bigger_plan_raises_the_limit_and_enterprise_has_none(limits_client, tenant):
    fill(tenant, 100)
    set_plan(tenant, "starter")
    assert create(limits_client, tenant, "fits@example.com").status_code == 201
    set_plan(tenant, "enterprise")
    assert create(limits_client, tenant, "unlimited@example.com").status_code == 201


def test_limits_off_for_a_self_hosted_install(client, tenant):
    # the shared test app runs with PLAN_LIMITS_ENABLED=false
    fill(tenant, 100)
    assert create(client, tenant, "no-limit@example.com").status_code == 201


def test_subscription_overview_without_stripe(limits_client, tenant):
    fill(tenant, 40)
    body = limits_client.get(f"{API}/subscription", headers=tenant.viewer.headers).json()
    assert (body["plan"], body["planName"], body["status"], body["billingConfigured"], body["limitsEnforced"]) == (
        "free", "Free", None, False, True)
    assert body["usage"] == {"prospects": {"used": 40, "limit": 100, "overLimit": False}}
    assert [(p["plan"], p["maxProspects"], p["selfServe"]) for p in body["plans"]] == [
        ("free", 100, False), ("starter", 1000, False), ("pro", 10000, False), ("enterprise", None, False)]
    refused = limits_client.post(f"{API}/subscription/upgrade", json={"plan": "pro"}, headers=tenant.admin.headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "BILLING_NOT_CONFIGURED"

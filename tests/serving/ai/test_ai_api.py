"""/api/v1/ai: models and prices, usage sums, routing and budget — validation, roles and tenancy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from serving.ai.llm.models import AiGeneration
from serving.main import create_app

API = "/api/v1/ai"


def _generation(tenant, *, model="gpt-4o", task="draft", user_id=None, cost="0.010000", input_tokens=100,
                output_tokens=50, status="ok", created_at=None) -> None:
    with tenant.session() as session, session.begin():
        session.add(AiGeneration(organization_id=tenant.organization_id, user_id=user_id, task=task,
                                 provider="openai" if model.startswith("gpt") else "anthropic", model=model,
                                 prompt_version="v1", input_tokens=input_tokens, output_tokens=output_tokens,
                                 cost_usd=Decimal(cost), status=status,
                                 **({"created_at": created_at} if created_at else {})))


@pytest.fixture(scope="module")
def ai_client(_vendor_servers, settings):
    from tests.conftest import make_settings

    app = create_app(make_settings(settings.owner_database_url, settings.home,
                                   **_vendor_servers.env(only=("openai", "gemini"))))
    with TestClient(app) as client:
        yield client


def test_models_list_prices_tasks_and_availability_and_never_keys(ai_client, tenant):
    response = ai_client.get(f"{API}/models", params={"limit": 100}, headers=tenant.viewer.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    models = {m["name"]: m for m in body["data"]}
    assert body["pagination"]["total"] == len(models) >= 8
    assert models["gpt-4o"] == {"name": "gpt-4o", "provider": "openai", "inputUsdPerMtok": 2.5,
                                "outputUsdPerMtok": 10.0, "tasks": ["draft", "rewrite", "classify", "summarize"],
                                "available": True}
    assert models["claude-sonnet-4-20250514"]["available"] is False  # no Anthropic key in this app
    assert models["gemini-2.0-flash"]["tasks"] == ["classify", "summarize"]
    assert "sk-fake" not in response.text and "fake-gemini-key" not in response.text


def test_usage_sums_by_model_task_user_and_day(client, tenant):
    today = datetime.now(UTC)
    _generation(tenant, model="gpt-4o", user_id=tenant.user.id, cost="0.010000")
    _generation(tenant, model="gpt-4o", task="rewrite", user_id=tenant.admin.id, cost="0.020000")
    _generation(tenant, model="claude-sonnet-4-20250514", cost="0.005000", status="error", input_tokens=0,
                output_tokens=0)
    _generation(tenant, model="gpt-4o", cost="9", created_at=today - timedelta(days=40))  # out of range
    params = {"from": (today - timedelta(days=1)).date().isoformat(), "to": today.date().isoformat()}
    by_model = client.get(f"{API}/usage", params=params | {"groupBy": "model"}, headers=tenant.user.headers).json()
    groups = {g["key"]: g for g in by_model["groups"]}
    assert groups["gpt-4o"] == {"key": "gpt-4o", "calls": 2, "errors": 0, "refused": 0, "inputTokens": 200,
                                "outputTokens": 100, "costUsd": 0.03}
    assert groups["claude-sonnet-4-20250514"]["errors"] == 1
    assert by_model["totals"]["calls"] == 3 and by_model["totals"]["costUsd"] == pytest.approx(0.035)
    assert by_model["from"] == params["from"] and by_model["groupBy"] == "model"
    by_task = client.get(f"{API}/usage", params=params | {"groupBy": "task"}, headers=tenant.user.headers).json()
    assert {g["key"]: g["calls"] for g in by_task["groups"]} == {"draft": 2, "rewrite": 1}
    by_user = client.get(f"{API}/usage", params=params | {"groupBy": "user"}, headers=tenant.user.headers).json()
    assert {g["key"]: g["costUsd"] for g in by_user["groups"]} == {
        str(tenant.user.id): 0.01, str(tenant.admin.id): 0.02, None: 0.005}
    by_day = client.get(f"{API}/usage", params=params | {"groupBy": "day"}, headers=tenant.user.headers).json()
    assert [g["key"] for g in by_day["groups"]] == [today.date().isoformat()]
    assert by_model["budget"]["spentUsd"] >= 0.035 and by_model["budget"]["monthlyCapUsd"] is None


@pytest.mark.parametrize("params", [{"groupBy": "nope"}, {"from": "2026-02-01", "to": "2026-01-01"},
                                    {"from": "2020-01-01", "to": "2026-01-01"}, {"from": "yesterday"}])
def test_bad_usage_queries_are_422(client, tenant, params):
    response = client.get(f"{API}/usage", params=params, headers=tenant.user.headers)
    assert response.status_code == 422 and response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_routing_put_validates_and_stores_and_null_resets(ai_client, tenant):
    current = ai_client.get(f"{API}/routing", headers=tenant.user.headers).json()["data"]
    draft = next(r for r in current if r["task"] == "draft")
    assert draft["source"] == "default" and [s["provider"] for s in draft["chain"]] == ["openai", "gemini"]
    chain = [{"provider": "gemini", "model": "gemini-2.5-pro"}, {"provider": "anthropic",
                                                                  "model": "claude-3-5-haiku-20241022"}]
    response = ai_client.put(f"{API}/routing", json={"routes": {"draft": chain}}, headers=tenant.admin.headers)
    assert response.status_code == 200, response.text
    draft = next(r for r in response.json()["data"] if r["task"] == "draft")
    assert draft["source"] == "organization"
    assert draft["chain"] == [{"provider": "gemini", "model": "gemini-2.5-pro", "available": True},
                              {"provider": "anthropic", "model": "claude-3-5-haiku-20241022", "available": False}]
    reset = ai_client.put(f"{API}/routing", json={"routes": {"draft": None}}, headers=tenant.admin.headers)
    assert next(r for r in reset.json()["data"] if r["task"] == "draft")["source"] == "default"


@pytest.mark.parametrize(("routes", "field"), [
    ({"draft": [{"provider": "mistral", "model": "large"}]}, "provider"),
    ({"draft": [{"provider": "openai", "model": "gpt-9"}]}, "model"),
    ({"draft": [{"provider": "openai", "model": "gemini-2.5-pro"}]}, "model"),
    ({"draft": [{"provider": "openai", "model": "gpt-4o"}, {"provider": "openai", "model": "gpt-4o"}]}, "model"),
    ({"draft": []}, None),
    ({"poetry": [{"provider": "openai", "model": "gpt-4o"}]}, None),
    ({}, None),
])
def test_routing_put_refuses_unknown_providers_and_models(client, tenant, routes, field):
    response = client.put(f"{API}/routing", json={"routes": routes}, headers=tenant.admin.headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    if field:
        assert field in error["details"]
    stored = client.get(f"{API}/routing", headers=tenant.admin.headers).json()["data"]
    assert all(r["source"] == "default" for r in stored)  # nothing half-written


def test_budget_put_is_for_admins_and_reports_what_is_left(client, tenant):
    assert client.put(f"{API}/budget", json={"monthlyCapUsd": 5}, headers=tenant.user.headers).status_code == 403
    assert client.put(f"{API}/routing", json={"routes": {"draft": None}},
                      headers=tenant.user.headers).status_code == 403
    _generation(tenant, cost="1.250000")
    response = client.put(f"{API}/budget", json={"monthlyCapUsd": 5}, headers=tenant.admin.headers)
    assert response.status_code == 200, response.text
    body = client.get(f"{API}/budget", headers=tenant.viewer.headers).json()
    assert body["monthlyCapUsd"] == 5 and body["source"] == "organization"
    assert body["spentUsd"] == 1.25 and body["remainingUsd"] == 3.75
    assert body["period"] == datetime.now(UTC).strftime("%Y-%m")
    cleared = client.put(f"{API}/budget", json={"monthlyCapUsd": None}, headers=tenant.admin.headers).json()
    assert cleared["source"] == "none" and cleared["remainingUsd"] is None
    for bad in ({"monthlyCapUsd": -1}, {"monthlyCapUsd": "lots"}, {"cap": 3}, {"monthlyCapUsd": 1.234}):
        refused = client.put(f"{API}/budget", json=bad, headers=tenant.admin.headers)
        assert refused.status_code == 422, bad


def test_an_organization_sees_only_its_own_usage_routing_and_budget(client, tenant, other_tenant):
    _generation(tenant, cost="2.000000", model="gpt-4o")
    client.put(f"{API}/budget", json={"monthlyCapUsd": 10}, headers=tenant.admin.headers)
    client.put(f"{API}/routing", json={"routes": {"classify": [{"provider": "openai", "model": "gpt-4o-mini"}]}},
               headers=tenant.admin.headers)
    usage = client.get(f"{API}/usage", headers=other_tenant.admin.headers).json()
    assert usage["groups"] == [] and usage["totals"]["costUsd"] == 0
    budget = client.get(f"{API}/budget", headers=other_tenant.admin.headers).json()
    assert budget["source"] == "none" and budget["spentUsd"] == 0
    routes = client.get(f"{API}/routing", headers=other_tenant.admin.headers).json()["data"]
    assert all(r["source"] == "default" for r in routes)
    mine = client.get(f"{API}/usage", headers=tenant.admin.headers).json()
    assert mine["totals"]["costUsd"] == 2.0

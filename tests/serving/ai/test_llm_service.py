"""complete()/stream() end to end: the real SDKs against the fake vendors, the real database under row-level
security — routing and fallback, retries, the budget (also under concurrency), the generation log and its costs."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from serving.ai import llm
from serving.ai.llm import AIUnavailable, BudgetExceeded, Message, pricing
from serving.ai.llm.models import AiBudget, AiGeneration, AiRoute
from serving.ai.llm.service import month_window
from serving.core.clock import utcnow
from serving.core.db import session_factory, tenant_session
from tests.conftest import make_settings

SCHEMA = {"type": "object", "properties": {"subject": {"type": "string"}, "body": {"type": "string"}},
          "required": ["subject", "body"]}


def _call(settings, tenant, *, fn=llm.complete, task="draft", **overrides):
    values = {"user_id": tenant.user.id, "task": task, "system": "Write briefly.",
              "messages": [Message("user", "Hello?")], "prompt_version": "test-v1", "settings": settings}
    values |= overrides
    with tenant_session(session_factory(settings.api_database_url), tenant.organization_id) as session:
        result = fn(db_session=session, organization_id=tenant.organization_id, **values)
        if fn is llm.stream:
            return result, list(result)
        return result


def _rows(tenant) -> list[AiGeneration]:
    with tenant.session() as session, session.begin():
        rows = session.scalars(select(AiGeneration).where(AiGeneration.organization_id == tenant.organization_id)
                               .order_by(AiGeneration.created_at)).all()
        session.expunge_all()
        return list(rows)


def test_a_draft_goes_to_the_first_provider_and_is_logged_with_its_cost(ai_settings, fake_vendors, tenant):
    fake_vendors.anthropic.reply_json({"subject": "Hi", "body": "Hello Ada"}, input_tokens=1200, output_tokens=300)
    done = _call(ai_settings, tenant, json_schema=SCHEMA)
    assert (done.provider, done.model) == ("anthropic", "claude-sonnet-4-20250514")
    assert done.parsed == {"subject": "Hi", "body": "Hello Ada"}
    # $3 / 1M input + $15 / 1M output
    assert done.cost_usd == Decimal("0.0036") + Decimal("0.0045")
    assert [a["status"] for a in done.attempts] == ["ok"]
    assert not fake_vendors.openai.requests and not fake_vendors.gemini.requests
    [row] = _rows(tenant)
    assert (row.status, row.provider, row.model, row.task, row.prompt_version) == (
        "ok", "anthropic", "claude-sonnet-4-20250514", "draft", "test-v1")
    assert (row.input_tokens, row.output_tokens, row.cost_usd) == (1200, 300, Decimal("0.008100"))
    assert row.user_id == tenant.user.id and row.id == done.generation_id and row.latency_ms > 0


def test_classify_goes_to_the_cheapest_model_first(ai_settings, fake_vendors, tenant):
    done = _call(ai_settings, tenant, task="classify")
    assert (done.provider, done.model) == ("gemini", "gemini-2.0-flash")


def test_a_429_is_retried_after_the_time_the_vendor_asked_for(ai_settings, fake_vendors, tenant):
    fake_vendors.anthropic.fail(429, retry_after=1)
    started = time.perf_counter()
    done = _call(ai_settings, tenant)
    assert time.perf_counter() - started >= 1.0
    assert done.provider == "anthropic" and len(fake_vendors.anthropic.requests) == 2
    assert not fake_vendors.openai.requests


def test_a_provider_that_stays_down_falls_back_to_the_next_with_every_attempt_recorded(ai_settings, fake_vendors,
                                                                                        tenant):
    fake_vendors.anthropic.down()
    done = _call(ai_settings, tenant)
    assert done.provider == "openai"
    assert len(fake_vendors.anthropic.requests) == ai_settings.ai_max_attempts  # retried, then moved on
    assert [(a["provider"], a["status"]) for a in done.attempts] == [("anthropic", "error"), ("openai", "ok")]
    assert done.attempts[0]["httpStatus"] == 503
    [row] = _rows(tenant)
    assert row.provider == "openai" and len(row.attempts) == 2


def test_a_400_is_not_retried_but_falls_back(ai_settings, fake_vendors, tenant):
    fake_vendors.anthropic.fail(400, message="bad schema")
    done = _call(ai_settings, tenant)
    assert len(fake_vendors.anthropic.requests) == 1 and done.provider == "openai"
    assert "bad schema" in done.attempts[0]["error"]


def test_all_providers_down_is_ai_unavailable_and_the_failure_is_logged_even_after_a_rollback(
        ai_settings, fake_vendors, tenant):
    for vendor in fake_vendors.all:
        vendor.down()
    with pytest.raises(AIUnavailable) as caught:
        _call(ai_settings, tenant)  # the tenant_session rolls back on the exception
    assert caught.value.status_code == 503 and caught.value.code == "AI_UNAVAILABLE"
    assert [a["provider"] for a in caught.value.details["attempts"]] == ["anthropic", "openai", "gemini"]
    [row] = _rows(tenant)
    assert row.status == "error" and row.cost_usd == 0 and "503" in row.error


def test_an_organization_route_wins_and_an_explicit_model_goes_first(ai_settings, fake_vendors, tenant):
    tenant.add(AiRoute, task="draft", chain=[{"provider": "gemini", "model": "gemini-2.5-pro"},
                                             {"provider": "openai", "model": "gpt-4o-mini"}])
    assert _call(ai_settings, tenant).model == "gemini-2.5-pro"
    assert _call(ai_settings, tenant, model="gpt-4o-mini").model == "gpt-4o-mini"
    assert fake_vendors.openai.requests[-1].body["model"] == "gpt-4o-mini"


def test_offline_when_no_provider_on_the_route_is_configured(settings, fake_vendors, tenant):
    none = make_settings(settings.owner_database_url, settings.home)
    assert llm.offline(settings=none)
    only_openai = make_settings(settings.owner_database_url, settings.home, **fake_vendors.env(only=("openai",)))
    assert not llm.offline(settings=only_openai)
    tenant.add(AiRoute, task="rewrite", chain=[{"provider": "anthropic", "model": "claude-3-5-haiku-20241022"}])
    with tenant_session(session_factory(settings.api_database_url), tenant.organization_id) as session:
        assert llm.offline(settings=only_openai, db_session=session, organization_id=tenant.organization_id,
                           task="rewrite")
        assert not llm.offline(settings=only_openai, db_session=session, organization_id=tenant.organization_id,
                               task="draft")
    with pytest.raises(AIUnavailable):
        _call(none, tenant)
    assert _rows(tenant)[-1].status == "error"


def test_streaming_yields_deltas_and_logs_when_the_stream_ends(ai_settings, fake_vendors, tenant):
    fake_vendors.anthropic.down()  # the fallback happens before the first delta
    fake_vendors.openai.reply("Hello Ada, about your pricing page.", input_tokens=1000, output_tokens=100)
    handle, deltas = _call(ai_settings, tenant, fn=llm.stream)
    assert len(deltas) > 1 and "".join(deltas) == "Hello Ada, about your pricing page."
    done = handle.completion
    assert (done.provider, done.input_tokens, done.output_tokens) == ("openai", 1000, 100)
    assert done.cost_usd == pricing.cost("gpt-4o", 1000, 100) == Decimal("0.0035")
    [row] = _rows(tenant)
    assert (row.status, row.provider, row.output_tokens) == ("ok", "openai", 100)


def test_a_stream_closed_early_is_logged_as_an_error(ai_settings, fake_vendors, tenant):
    with tenant_session(session_factory(ai_settings.api_database_url), tenant.organization_id) as session:
        handle = llm.stream(db_session=session, organization_id=tenant.organization_id, user_id=None, task="draft",
                            system="s", messages=[Message("user", "u")], prompt_version="v", settings=ai_settings)
        next(handle)
        handle._chunks.close()  # what a dropped connection does to the generator
    [row] = _rows(tenant)
    assert row.status == "error" and "closed" in row.error and row.cost_usd > 0  # the reserved estimate stays


def test_cost_arithmetic_from_usage():
    assert pricing.cost("gpt-4o", 1_000_000, 1_000_000) == Decimal("12.50")
    assert pricing.cost("claude-3-5-haiku-20241022", 2000, 500) == Decimal("0.0036")
    assert pricing.cost("gemini-2.0-flash", 1, 1) == Decimal("0.000001")  # $0.0000005, rounded up


def _spent(tenant, cost: Decimal, **values) -> None:
    # Tenant.add's first parameter is called `model`, as is a generation's column: build the row here
    with tenant.session() as session, session.begin():
        session.add(AiGeneration(organization_id=tenant.organization_id, task="draft", provider="openai",
                                 model="gpt-4o", prompt_version="v", status="ok", cost_usd=cost, **values))


def test_over_budget_is_refused_before_any_vendor_is_called(ai_settings, fake_vendors, tenant):
    tenant.add(AiBudget, monthly_cap_usd=Decimal("1.00"))
    # spent this month: 0.995; last month's spending does not count
    _spent(tenant, Decimal("0.995"))
    _spent(tenant, Decimal("50"), created_at=month_window()[0] - timedelta(days=3))
    with pytest.raises(BudgetExceeded) as caught:
        _call(ai_settings, tenant)
    error = caught.value
    assert error.status_code == 402 and error.code == "AI_BUDGET_EXCEEDED"
    assert error.details["cap"] == "1.00" and Decimal(error.details["spent"]) == Decimal("0.995")
    assert error.details["period"] == utcnow().strftime("%Y-%m")
    assert error.details["resetsAt"] == month_window()[1].isoformat()
    assert not any(vendor.requests for vendor in fake_vendors.all)
    assert _rows(tenant)[-1].status == "refused"
    # a cheap task still fits
    assert _call(ai_settings, tenant, task="classify", max_tokens=50).provider == "gemini"


def test_the_settings_default_budget_applies_without_an_organization_row(settings, fake_vendors, tenant):
    capped = make_settings(settings.owner_database_url, settings.home, AI_MONTHLY_BUDGET_USD="0.001",
                           **fake_vendors.env())
    with pytest.raises(BudgetExceeded):
        _call(capped, tenant)


def test_two_concurrent_calls_at_the_edge_do_not_both_pass(ai_settings, fake_vendors, tenant):
    # one call's estimate (~$0.012 for 800 output tokens of Sonnet) fits under $0.02, two do not
    tenant.add(AiBudget, monthly_cap_usd=Decimal("0.02"))
    fake_vendors.anthropic.answer("slow answer", delay=1.0)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def run():
        barrier.wait()
        try:
            _call(ai_settings, tenant)
            outcomes.append("ok")
        except BudgetExceeded:
            outcomes.append("refused")

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "refused"]
    assert len(fake_vendors.anthropic.requests) == 1
    assert sorted(row.status for row in _rows(tenant)) == ["ok", "refused"]


def test_log_generation_writes_the_offline_writers_row_in_the_callers_transaction(settings, tenant):
    with tenant_session(session_factory(settings.api_database_url), tenant.organization_id) as session:
        generation_id = llm.log_generation(
            db_session=session, organization_id=tenant.organization_id, user_id=tenant.user.id, task="draft",
            provider="offline", model="templates-v1", prompt_version="offline-v1", input_tokens=0, output_tokens=0,
            cost_usd=Decimal(0), latency_ms=3.5, status="ok")
    [row] = _rows(tenant)
    assert row.id == generation_id and row.provider == "offline" and row.latency_ms == 3.5


def test_timeouts_and_refused_connections_are_retried_then_fall_back(settings, fake_vendors, tenant):
    slow = make_settings(settings.owner_database_url, settings.home,
                         **(fake_vendors.env() | {"AI_TIMEOUT_SECONDS": "0.3", "AI_MAX_ATTEMPTS": "2",
                                                  "GOOGLE_AI_BASE_URL": "http://127.0.0.1:9/"}))
    fake_vendors.anthropic.answer("too late", delay=1.0)
    fake_vendors.openai.down()
    tenant.add(AiRoute, task="summarize", chain=[
        {"provider": "anthropic", "model": "claude-3-5-haiku-20241022"},
        {"provider": "gemini", "model": "gemini-2.0-flash"},   # nothing listens on port 9: connection refused
        {"provider": "openai", "model": "gpt-4o-mini"}])
    with pytest.raises(AIUnavailable) as caught:
        _call(slow, tenant, task="summarize")
    attempts = caught.value.details["attempts"]
    assert [a["provider"] for a in attempts] == ["anthropic", "gemini", "openai"]
    assert "Timeout" in attempts[0]["error"] and attempts[0]["httpStatus"] is None
    assert "Connect" in attempts[1]["error"]
    assert len(fake_vendors.anthropic.requests) == 2 and len(fake_vendors.openai.requests) == 2  # retried

"""The enrichment waterfall against the vendors' HTTP APIs, faked by a local server speaking their documented JSON:
providers that disagree, the cache, the monthly cost cap, no-match / bad key / rate limit."""
from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from serving.enrichment import clients
from serving.enrichment.runner import AnswerCache, ProviderSetting, run
from tests.serving.enrichment.vendor_fakes import (
    APOLLO,
    CLEARBIT,
    HUNTER_VERIFY,
    LOOKUP,
    NOW,
    PATHS,
    PDL,
    ZOOMINFO,
)


def _run(urls, providers, cache=None, **kw):
    with httpx.Client(timeout=5) as http:
        return run(LOOKUP, providers, http=http, base_urls=urls, cache=cache or AnswerCache(), now=NOW,
                   mx_check=lambda domain: domain == "acme.io", **kw)


def test_providers_that_disagree_resolve_per_field_by_priority_with_provenance(vendor) -> None:
    handler, urls = vendor
    handler.answers = {PATHS["clearbit"]: (200, CLEARBIT), PATHS["apollo"]: (200, APOLLO), PATHS["pdl"]: (200, PDL)}
    result = _run(urls, [ProviderSetting("pdl", "k-pdl", priority=3, cost_cents=10),
                         ProviderSetting("clearbit", "k-cb", priority=1, cost_cents=50),
                         ProviderSetting("apollo", "k-ap", priority=2, cost_cents=5)])
    data = result.enrichment_data
    # Title and company: all three disagree, Clearbit (priority 1) wins.
    assert data["title"] == {"value": "VP Engineering", "source": "clearbit", "confidence": 1.0,
                             "fetched_at": NOW.isoformat()}
    assert data["company_name"]["value"] == "Acme"
    # Clearbit has no phone: Apollo's (priority 2) is kept over PDL's, in E.164.
    assert data["phone"] == {"value": "+14155550123", "source": "apollo", "confidence": 1.0,
                             "fetched_at": NOW.isoformat()}
    assert [r.provider for r in result.requests] == ["clearbit", "apollo", "pdl"]
    assert [r.status for r in result.requests] == ["ok", "ok", "ok"]
    assert [r.cost_cents for r in result.requests] == [50, 5, 10]
    assert all(r.cache_hit is False and r.latency_ms is not None for r in result.requests)
    # The vendors were asked in their documented shapes, with the organization's keys.
    calls = {path: (method, query, extra) for method, path, query, extra in handler.calls}
    assert calls[PATHS["clearbit"]][1] == {"email": "ada@acme.io"}
    assert calls[PATHS["clearbit"]][2]["auth"] == "Bearer k-cb"
    assert calls[PATHS["apollo"]][0] == "POST" and calls[PATHS["apollo"]][2]["x-api-key"] == "k-ap"
    assert calls[PATHS["apollo"]][2]["body"]["email"] == "ada@acme.io"
    assert calls[PATHS["pdl"]][2]["x-api-key"] == "k-pdl"


def test_stops_asking_once_every_wanted_field_is_known(vendor) -> None:
    handler, urls = vendor
    handler.answers = {PATHS["clearbit"]: (200, CLEARBIT), PATHS["apollo"]: (200, APOLLO)}
    result = _run(urls, [ProviderSetting("clearbit", "a", priority=1), ProviderSetting("apollo", "b", priority=2)],
                  wanted=("title", "company_name"))
    assert set(result.enrichment_data) == {"title", "company_name"}
    assert [r.provider for r in result.requests] == ["clearbit"]
    assert [c[1] for c in handler.calls] == [PATHS["clearbit"]]


def test_invalid_or_unconfident_values_fall_through_to_the_next_provider(vendor) -> None:
    handler, urls = vendor
    bad_phone = {"person": {**APOLLO["person"], "phone_numbers": [{"sanitized_number": "12"}],
                            "email": "ada@nomx.example"}}
    handler.answers = {PATHS["apollo"]: (200, bad_phone), PATHS["zoominfo"]: (200, ZOOMINFO),
                       PATHS["pdl"]: (200, {**PDL, "likelihood": 2})}
    result = _run(urls, [ProviderSetting("apollo", "a", priority=1), ProviderSetting("pdl", "p", priority=2),
                         ProviderSetting("zoominfo", "z", priority=3)], wanted=("email", "phone", "title"))
    data = result.enrichment_data
    assert data["phone"]["value"] == "+14155550199" and data["phone"]["source"] == "zoominfo"
    assert data["email"] == {"value": "ada@acme.io", "source": "zoominfo", "confidence": 0.95,
                             "fetched_at": NOW.isoformat()}  # Apollo's e-mail domain has no MX; PDL is unsure
    assert data["title"]["source"] == "apollo"
    zoominfo_call = next(c for c in handler.calls if c[1] == PATHS["zoominfo"])
    assert zoominfo_call[3]["body"]["matchPersonInput"] == [{
        "emailAddress": "ada@acme.io", "firstName": "Ada", "lastName": "Lovelace", "companyWebsite": "acme.io"}]


def test_same_lookup_within_the_ttl_is_served_from_the_cache(vendor) -> None:
    handler, urls = vendor
    handler.answers = {PATHS["clearbit"]: (200, CLEARBIT), PATHS["pdl"]: (404, {"status": 404})}
    providers = [ProviderSetting("pdl", "p", priority=1, cost_cents=10),
                 ProviderSetting("clearbit", "c", priority=2, cost_cents=50)]
    cache = AnswerCache(ttl=timedelta(hours=1))
    first = _run(urls, providers, cache)
    assert [(r.provider, r.status, r.cache_hit, r.cost_cents) for r in first.requests] == [
        ("pdl", "no_match", False, 10), ("clearbit", "ok", False, 50)]
    second = _run(urls, providers, cache)
    assert len(handler.calls) == 2  # no new vendor call
    assert [(r.provider, r.status, r.cache_hit, r.cost_cents) for r in second.requests] == [
        ("pdl", "no_match", True, 0), ("clearbit", "ok", True, 0)]
    assert second.enrichment_data == first.enrichment_data
    with httpx.Client(timeout=5) as http:  # past the TTL the vendors are asked again
        run(LOOKUP, providers, http=http, base_urls=urls, cache=cache, now=NOW + timedelta(hours=2))
    assert len(handler.calls) == 4


def test_monthly_cost_cap_skips_the_provider_and_says_why(vendor) -> None:
    handler, urls = vendor
    handler.answers = {PATHS["clearbit"]: (200, CLEARBIT), PATHS["apollo"]: (200, APOLLO)}
    result = _run(urls, [ProviderSetting("clearbit", "c", priority=1, cost_cents=50, monthly_cap_cents=1000,
                                         spent_this_month_cents=980),
                         ProviderSetting("apollo", "a", priority=2, cost_cents=5, monthly_cap_cents=1000,
                                         spent_this_month_cents=995)])
    skipped, used = result.requests
    assert skipped.status == "skipped_cost_cap" and skipped.cost_cents == 0
    assert skipped.error == "monthly cost cap reached: 980 of 1000 cents spent, a request costs 50"
    assert used.status == "ok" and used.cost_cents == 5  # 995 + 5 is exactly the cap: allowed
    assert [c[1] for c in handler.calls] == [PATHS["apollo"]]
    assert result.enrichment_data["title"]["source"] == "apollo"


def test_bad_key_rate_limit_and_server_error_are_recorded_and_the_waterfall_goes_on(vendor) -> None:
    handler, urls = vendor
    handler.answers = {PATHS["clearbit"]: (401, {"error": {"type": "auth_required"}}),
                       PATHS["apollo"]: (429, {"message": "rate limit"}),
                       PATHS["pdl"]: (500, {"error": "boom"}),
                       PATHS["hunter"]: (200, HUNTER_VERIFY)}
    result = _run(urls, [ProviderSetting(n, "k", priority=i) for i, n in
                         enumerate(["clearbit", "apollo", "pdl", "hunter"])], wanted=("email",))
    assert [(r.provider, r.status) for r in result.requests] == [
        ("clearbit", "bad_key"), ("apollo", "rate_limited"), ("pdl", "provider_error"), ("hunter", "ok")]
    assert result.requests[0].error == "clearbit: the API key was refused (401)"
    assert all(r.cost_cents == 0 for r in result.requests[:3])
    assert result.enrichment_data["email"] == {"value": "ada@acme.io", "source": "hunter", "confidence": 0.96,
                                               "fetched_at": NOW.isoformat()}
    hunter_call = next(c for c in handler.calls if c[1] == PATHS["hunter"])
    assert hunter_call[2] == {"email": "ada@acme.io", "api_key": "k"}


def test_rate_limited_carries_retry_after_and_unknown_fields_are_refused(vendor) -> None:
    handler, urls = vendor
    handler.answers = {PATHS["apollo"]: (429, {"message": "slow down"})}
    with httpx.Client(timeout=5) as http, pytest.raises(clients.RateLimited) as exc:
        clients.apollo(http, urls["apollo"], "k", LOOKUP)
    assert exc.value.retry_after == 30.0
    with pytest.raises(ValueError, match="unknown enrichment fields: shoe_size"):
        _run(urls, [ProviderSetting("apollo", "k")], wanted=("shoe_size",))


def test_unreachable_vendor_is_an_error_record_not_a_crash() -> None:
    with httpx.Client(timeout=1) as http:
        result = run(LOOKUP, [ProviderSetting("pdl", "k")], http=http, base_urls={"pdl": "http://127.0.0.1:9"},
                     cache=AnswerCache(), now=NOW)
    assert result.enrichment_data == {}
    assert result.requests[0].status == "error" and result.requests[0].error == "pdl: ConnectError"


def test_zoominfo_basic_credentials_are_exchanged_for_a_jwt_reused_for_the_hour(vendor) -> None:
    handler, urls = vendor
    handler.answers = {"/authenticate": (200, {"jwt": "eyJ.zoominfo.jwt"}), PATHS["zoominfo"]: (200, ZOOMINFO)}
    clients._ZOOMINFO_JWTS.clear()
    setting = [ProviderSetting("zoominfo", "api-user@acme.io:s3cret")]
    for _ in range(2):  # a fresh cache each time: two vendor lookups, one authentication
        assert _run(urls, setting).requests[0].status == "ok"
    auth = [c for c in handler.calls if c[1] == "/authenticate"]
    enrich = [c for c in handler.calls if c[1] == PATHS["zoominfo"]]
    assert [c[3]["body"] for c in auth] == [{"username": "api-user@acme.io", "password": "s3cret"}]
    assert [c[3]["auth"] for c in enrich] == ["Bearer eyJ.zoominfo.jwt"] * 2

    # a JWT refused mid-hour is renewed once; refused again, the key is bad
    handler.answers[PATHS["zoominfo"]] = (401, {"error": "invalid token"})
    assert _run(urls, setting).requests[0].status == "bad_key"
    assert len([c for c in handler.calls if c[1] == "/authenticate"]) == 2
    # a key that already is a JWT is used as it is
    handler.answers[PATHS["zoominfo"]] = (200, ZOOMINFO)
    _run(urls, [ProviderSetting("zoominfo", "eyJ.given.jwt")])
    assert handler.calls[-1][3]["auth"] == "Bearer eyJ.given.jwt"
    assert len([c for c in handler.calls if c[1] == "/authenticate"]) == 2

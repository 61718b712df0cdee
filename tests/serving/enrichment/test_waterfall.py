from datetime import UTC, datetime

from serving.enrichment.waterfall import ProviderAnswer, merge, normalise_phone

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
CLEARBIT = ProviderAnswer("clearbit", {"title": "VP Sales", "phone": "not a phone",
                                       "email": "ada@acme.com", "company_domain": "acme.com"}, 0.9)
APOLLO = ProviderAnswer("apollo", {"title": "Head of Sales", "phone": "+1 415-555-0132"}, 0.8)


def test_higher_priority_valid_value_wins_and_invalid_phone_falls_through():
    data = merge([CLEARBIT, APOLLO], priority=["clearbit", "apollo"], now=NOW)
    assert data["title"] == {"value": "VP Sales", "source": "clearbit", "confidence": 0.9,
                             "fetched_at": NOW.isoformat()}
    assert data["phone"]["value"] == "+14155550132"
    assert data["phone"]["source"] == "apollo"
    assert "domain_mismatch" not in data["company_domain"]


def test_per_field_priority_overrides_the_provider_order():
    data = merge([CLEARBIT, APOLLO], priority=["clearbit", "apollo"], now=NOW,
                 field_priority={"title": ["apollo", "clearbit"]})
    assert data["title"]["value"] == "Head of Sales"


def test_mx_failure_rejects_the_email():
    data = merge([CLEARBIT], priority=["clearbit"], now=NOW, mx_check=lambda domain: domain != "acme.com")
    assert "email" not in data


def test_low_confidence_answer_is_skipped():
    data = merge([ProviderAnswer("pdl", {"title": "CTO"}, 0.2)], priority=["pdl"], now=NOW)
    assert data == {}


def test_company_domain_not_matching_email_is_flagged():
    answer = ProviderAnswer("hunter", {"email": "ada@gmail.com", "company_domain": "www.Acme.com"})
    data = merge([answer], priority=["hunter"], now=NOW)
    assert data["company_domain"]["value"] == "acme.com"
    assert data["company_domain"]["domain_mismatch"] is True


def test_phone_normalisation():
    assert normalise_phone("(415) 555-0132") == "+14155550132"
    assert normalise_phone("12") is None

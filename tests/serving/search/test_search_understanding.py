"""Query understanding as a pure function: what each phrase becomes, and what is left as text."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from serving.core.config import Settings
from serving.search.intent import period_range, understand

TODAY = date(2026, 12, 4)  # a Friday
ALL = ["prospects", "accounts", "deals", "emails"]


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def test_plain_words_stay_text_for_every_type():
    u = understand("  acme   rockets ", types=ALL, today=TODAY)
    assert (u.text, u.types, u.filters, u.phrases, u.lookup) == ("acme rockets", ALL, {}, [], None)
    assert understand("", types=ALL, today=TODAY).text == "*"


def test_an_email_address_is_an_exact_lookup():
    u = understand("Jane.Doe@Acme.io", types=ALL, today=TODAY)
    assert u.lookup == ("prospects", "email", "jane.doe@acme.io")
    assert u.types == ["prospects", "emails"] and u.text == "*"
    assert u.filters == {"prospects": ["email:=`jane.doe@acme.io`"], "emails": ["to_addresses:=`jane.doe@acme.io`"]}


@pytest.mark.parametrize("query", ["acme.io", "www.acme.io", "https://acme.io/pricing?x=1", "ACME.IO"])
def test_a_domain_or_url_is_a_company_lookup(query):
    u = understand(query, types=ALL, today=TODAY)
    assert u.lookup == ("accounts", "domain", "acme.io")
    assert u.filters == {"accounts": ["domain:=`acme.io`"], "prospects": ["email_domain:=`acme.io`"]}


def test_deals_closing_this_month():
    u = understand("deals closing this month", types=ALL, today=TODAY)
    assert u.types == ["deals"] and u.text == "*"
    start, end = _epoch(date(2026, 12, 1)), _epoch(date(2027, 1, 1))
    assert u.filters == {"deals": [f"close_date:>={start} && close_date:<{end}"]}
    assert [p["meaning"] for p in u.phrases] == ["close date from 2026-12-01 to 2026-12-31", "type deals"]


def test_hot_prospects_in_an_industry_the_organization_uses():
    u = understand("hot prospects in fintech", types=ALL, today=TODAY, industries=["Retail", "FinTech"])
    assert u.types == ["prospects"] and u.text == "*"
    assert u.filters["prospects"] == ["intent_tier:=[hot, burning]", "industry:=`FinTech`"]
    # an industry nobody uses stays text
    assert understand("prospects in mining", types=ALL, today=TODAY, industries=["Retail"]).text == "mining"


def test_amounts_stages_status_and_ownership():
    u = understand("my open deals over $50k", types=ALL, today=TODAY, user_id="u-1")
    assert u.types == ["deals"] and u.text == "*"
    assert u.filters["deals"] == ["amount:>=50000.00", "stage:=[discovery, qualification, proposal, negotiation]",
                                  "owner_id:=`u-1`"]
    assert understand("won deals", types=ALL, today=TODAY).filters == {"deals": ["stage:=closed_won"]}
    assert understand("new prospects acme", types=ALL, today=TODAY).filters == {"prospects": ["status:=new"]}


def test_types_the_caller_cannot_read_are_never_added():
    u = understand("deals closing this month", types=["prospects"], today=TODAY)
    assert u.types == ["prospects"]


def test_backticks_in_values_cannot_end_the_quoted_value():
    u = understand("prospects in fin`tech", types=ALL, today=TODAY, industries=["fin`tech"])
    assert u.filters["prospects"] == ["industry:=`fintech`"]


@pytest.mark.parametrize(("period", "start", "end"), [
    ("today", date(2026, 12, 4), date(2026, 12, 5)),
    ("this week", date(2026, 11, 30), date(2026, 12, 7)),
    ("next month", date(2027, 1, 1), date(2027, 2, 1)),
    ("last month", date(2026, 11, 1), date(2026, 12, 1)),
    ("this quarter", date(2026, 10, 1), date(2027, 1, 1)),
    ("next quarter", date(2027, 1, 1), date(2027, 4, 1)),
    ("last 7 days", date(2026, 11, 28), date(2026, 12, 5)),
])
def test_periods(period, start, end):
    assert period_range(period, TODAY) == (start, end)


def test_the_seeds_host_port_protocol_settings_make_the_url():
    settings = Settings(TYPESENSE_HOST="search.example.com", TYPESENSE_PORT=443, TYPESENSE_PROTOCOL="https",
                        TYPESENSE_API_KEY="k", REVORC_ENV="test", JWT_SECRET="x" * 40)
    assert settings.typesense == ("https://search.example.com:443", "k")

from datetime import UTC, datetime

import dns.resolver

from serving.enrichment.validation import has_mx
from serving.enrichment.waterfall import ProviderAnswer, merge


class _Mx:
    def __init__(self, exchange: str):
        self.exchange = exchange


class LocalResolver:
    """A local DNS answer: the MX records of each known domain; unknown domains are NXDOMAIN."""

    def __init__(self, zones: dict[str, list[str]]):
        self.zones = zones

    def resolve(self, name: str, rdtype: str):
        assert rdtype == "MX"
        if name not in self.zones:
            raise dns.resolver.NXDOMAIN
        return [_Mx(x) for x in self.zones[name]]


RESOLVER = LocalResolver({"acme.com": ["mx1.acme.com."], "nomail.example": ["."]})


def test_has_mx():
    assert has_mx(RESOLVER, "acme.com") is True
    assert has_mx(RESOLVER, "nomail.example") is False  # null MX
    assert has_mx(RESOLVER, "unknown.example") is False


def test_email_without_mx_falls_through_to_next_provider():
    answers = [ProviderAnswer("clearbit", {"email": "ada@unknown.example"}),
               ProviderAnswer("hunter", {"email": "ada@acme.com"})]
    data = merge(answers, priority=["clearbit", "hunter"], now=datetime(2026, 1, 5, tzinfo=UTC),
                 mx_check=lambda domain: has_mx(RESOLVER, domain))
    assert data["email"]["value"] == "ada@acme.com"
    assert data["email"]["source"] == "hunter"

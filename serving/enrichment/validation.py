"""MX check for enriched e-mails.

The resolver is anything with dnspython's `resolve(name, rdtype)`; production passes a configured
`dns.resolver.Resolver` (the same `DNS_NAMESERVERS` setting the e-mail deliverability check uses), tests
pass a local answer. A domain with no MX (or a DNS failure) makes the e-mail unusable, so the waterfall
moves on to the next provider's e-mail.
"""
from __future__ import annotations

from typing import Any, Protocol

import dns.exception
import dns.name
import dns.resolver


class Resolver(Protocol):
    def resolve(self, name: str, rdtype: str) -> Any: ...


def has_mx(resolver: Resolver, domain: str) -> bool:
    try:
        answer = resolver.resolve(domain, "MX")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers,
            dns.exception.Timeout, dns.name.NameTooLong):
        return False
    # RFC 7505 "null MX" (preference 0, exchange ".") says the domain accepts no mail.
    return any(str(getattr(r, "exchange", r)).rstrip(".") for r in answer)

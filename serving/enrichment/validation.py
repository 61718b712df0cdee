"""MX check for enriched e-mails.

The resolver is anything with dnspython's `resolve(name, rdtype)`; the service builds a `dns.resolver.Resolver`
with the same `DNS_NAMESERVERS` setting the e-mail deliverability check uses, tests pass a local answer or a local
DNS server. A domain that does not exist, has no MX, or publishes the RFC 7505 null MX makes the e-mail unusable,
so the waterfall moves on to the next provider's e-mail. A DNS failure (timeout, no nameserver answering) proves
nothing about the domain: the e-mail is kept — an outage of ours must not throw away what a vendor was paid for.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Protocol

import dns.exception
import dns.name
import dns.resolver


class Resolver(Protocol):
    def resolve(self, name: str, rdtype: str) -> Any: ...


def has_mx(resolver: Resolver, domain: str) -> bool | None:
    """True: the domain accepts mail; False: it cannot; None: DNS did not answer (unknown)."""
    try:
        answer = resolver.resolve(domain, "MX")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.name.NameTooLong, dns.name.EmptyLabel):
        return False
    except (dns.resolver.NoNameservers, dns.exception.Timeout):
        return None
    # RFC 7505 "null MX" (preference 0, exchange ".") says the domain accepts no mail.
    return any(str(getattr(r, "exchange", r)).rstrip(".") for r in answer)


class MxChecker:
    """`has_mx` with each domain's answer remembered for `ttl` seconds (per process): one lookup per domain, not
    per prospect. Unknown answers are not remembered, so the next run asks again."""

    def __init__(self, resolver: Resolver, ttl: float = 3600.0) -> None:
        self.resolver, self.ttl = resolver, ttl
        self._known: dict[str, tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def __call__(self, domain: str) -> bool | None:
        domain = domain.lower()
        now = time.monotonic()
        with self._lock:
            known = self._known.get(domain)
        if known is not None and now - known[0] < self.ttl:
            return known[1]
        answer = has_mx(self.resolver, domain)
        if answer is not None:
            with self._lock:
                self._known[domain] = (now, answer)
        return answer

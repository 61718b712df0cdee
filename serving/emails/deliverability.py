"""SPF / DKIM / DMARC readiness of a sending domain, from DNS TXT records.

The resolver is anything with `resolve(name, rdtype)` returning records with `to_text()`
(dnspython's `Resolver`); `DNS_NAMESERVERS` points it at specific servers, tests pass a fake.
"""

from __future__ import annotations

from typing import Any, Protocol

import dns.exception
import dns.name
import dns.resolver

from serving.core.config import Settings
from serving.emails.schemas import DeliverabilityOut, DnsCheckOut

COMMON_DKIM_SELECTORS = ["s1", "s2", "default", "google", "selector1", "selector2", "k1", "smtp"]


class Resolver(Protocol):
    def resolve(self, name: str, rdtype: str) -> Any: ...


def resolver_for(settings: Settings) -> Resolver:
    if settings.dns_nameservers:
        resolver = dns.resolver.Resolver(configure=False)
        hosts, port = [], 53
        for server in settings.dns_nameservers:
            host, _, maybe_port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
            hosts.append(host or server)
            port = int(maybe_port) if maybe_port else port
        resolver.nameservers = hosts
        resolver.port = port
    else:
        resolver = dns.resolver.Resolver()
    resolver.lifetime = 5.0
    return resolver


def _txt(resolver: Resolver, name: str) -> list[str]:
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers, dns.exception.Timeout):
        return []
    except dns.name.NameTooLong:  # `selector._domainkey.` + a long domain: no record can exist at that name
        return []
    records = []
    for record in answer:
        strings = getattr(record, "strings", None)
        if strings is not None:
            records.append(b"".join(strings).decode(errors="replace"))
        else:
            records.append(record.to_text().strip('"').replace('" "', ""))
    return records


def check_spf(resolver: Resolver, domain: str) -> DnsCheckOut:
    found = [r for r in _txt(resolver, domain) if r.lower().startswith("v=spf1")]
    if not found:
        return DnsCheckOut(
            record="SPF",
            name=domain,
            status="fail",
            found=[],
            message="no SPF record: publish `v=spf1 include:<your provider> ~all`",
        )
    if len(found) > 1:
        return DnsCheckOut(
            record="SPF",
            name=domain,
            status="fail",
            found=found,
            message="more than one SPF record (receivers treat this as a permanent error)",
        )
    if found[0].rstrip().endswith("+all"):
        return DnsCheckOut(
            record="SPF",
            name=domain,
            status="warn",
            found=found,
            message="`+all` lets anyone send as this domain",
        )
    return DnsCheckOut(record="SPF", name=domain, status="pass", found=found, message="SPF record published")


def check_dkim(resolver: Resolver, domain: str, selector: str | None) -> DnsCheckOut:
    selectors = [selector] if selector else COMMON_DKIM_SELECTORS
    for candidate in selectors:
        name = f"{candidate}._domainkey.{domain}"
        found = [r for r in _txt(resolver, name) if "p=" in r]
        if found:
            if any("p=;" in r.replace(" ", "") or r.replace(" ", "").endswith("p=") for r in found):
                return DnsCheckOut(
                    record="DKIM",
                    name=name,
                    status="fail",
                    found=found,
                    message="the DKIM key is revoked (empty p=)",
                )
            return DnsCheckOut(
                record="DKIM",
                name=name,
                status="pass",
                found=found,
                message=f"DKIM key published for selector {candidate}",
            )
    name = f"{selector}._domainkey.{domain}" if selector else f"<selector>._domainkey.{domain}"
    return DnsCheckOut(
        record="DKIM",
        name=name,
        status="fail",
        found=[],
        message="no DKIM key found" + ("" if selector else " for common selectors; pass ?selector="),
    )


def check_dmarc(resolver: Resolver, domain: str) -> DnsCheckOut:
    name = f"_dmarc.{domain}"
    found = [r for r in _txt(resolver, name) if r.lower().startswith("v=dmarc1")]
    if not found:
        return DnsCheckOut(
            record="DMARC",
            name=name,
            status="fail",
            found=[],
            message="no DMARC record: publish `v=DMARC1; p=none; rua=mailto:…` to start",
        )
    tags = {k.strip().lower(): v.strip() for k, _, v in (p.partition("=") for p in found[0].split(";")) if k}
    if tags.get("p", "none").lower() == "none":
        return DnsCheckOut(
            record="DMARC",
            name=name,
            status="warn",
            found=found,
            message="DMARC policy is p=none (monitoring only)",
        )
    return DnsCheckOut(
        record="DMARC", name=name, status="pass", found=found, message=f"DMARC policy p={tags.get('p')}"
    )


def check_domain(domain: str, *, selector: str | None, resolver: Resolver) -> DeliverabilityOut:
    checks = [
        check_spf(resolver, domain),
        check_dkim(resolver, domain, selector),
        check_dmarc(resolver, domain),
    ]
    return DeliverabilityOut(domain=domain, ready=all(c.status != "fail" for c in checks), checks=checks)

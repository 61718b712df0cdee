"""Enrichment with the real resolver against a local DNS server (dnspython speaking DNS over UDP): a vendor's
e-mail at a domain that does not exist or takes no mail (RFC 7505 null MX) gives way to the next vendor's; a DNS
outage keeps the e-mail. Vendor answers are cached in Postgres for the organization — a second enrichment, from
another session (another process would read the same rows), asks no vendor and costs nothing; another organization
shares nothing. Each enrichment publishes `enrichment.completed`."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator

import dns.exception
import dns.message
import dns.rcode
import dns.rrset
import pytest
from sqlalchemy import text

from serving.core.db import session_factory, tenant_session
from serving.enrichment import service
from serving.enrichment.validation import MxChecker, has_mx
from serving.prospects.models import Prospect
from tests.factories import make_tenant
from tests.serving.enrichment.vendor_fakes import APOLLO, CLEARBIT, NOW, PATHS

ZONES = {"acme.io.": ["10 mx1.acme.io."], "nomail.example.": ["0 ."]}  # anything else: NXDOMAIN


class _Dns(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        self.server.asked.append(question.name.to_text())  # type: ignore[attr-defined]
        records = ZONES.get(question.name.to_text().lower())
        if records is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            response.answer.append(dns.rrset.from_text_list(question.name, 300, "IN", "MX", records))
        sock.sendto(response.to_wire(), self.client_address)


@pytest.fixture(scope="module")
def dns_server() -> Iterator[socketserver.ThreadingUDPServer]:
    server = socketserver.ThreadingUDPServer(("127.0.0.1", 0), _Dns)
    server.asked = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _configured(settings, urls, dns_server):
    return settings.model_copy(update={
        **{f"{name}_base_url": url for name, url in urls.items()}, "enrichment_verify_mx": True,
        "dns_nameservers": [f"127.0.0.1:{dns_server.server_address[1]}"]})


def test_the_resolver_rejects_mailless_domains_and_keeps_e_mails_when_dns_is_down(settings, dns_server):
    cfg = _configured(settings, {}, dns_server)
    check = service.mx_checker(cfg)
    assert check("acme.io") is True and check("nomail.example") is False and check("gone.example") is False
    asked = len(dns_server.asked)
    assert check("ACME.io") is True and len(dns_server.asked) == asked  # remembered for the hour

    class Down:
        def resolve(self, name, rdtype):
            raise dns.exception.Timeout

    assert has_mx(Down(), "acme.io") is None and MxChecker(Down())("acme.io") is None
    assert service.mx_checker(settings) is None  # ENRICHMENT_VERIFY_MX off: syntax only


def test_mx_picks_the_deliverable_e_mail_and_the_postgres_cache_serves_the_next_run(settings, vendor, dns_server,
                                                                                    owner_session):
    handler, urls = vendor
    moved = {**CLEARBIT, "person": {**CLEARBIT["person"], "email": "ada@oldco-gone.example"}}
    handler.answers = {PATHS["clearbit"]: (200, moved), PATHS["apollo"]: (200, APOLLO)}
    cfg = _configured(settings, urls, dns_server)
    factory = session_factory(settings.api_database_url)
    tenants = [make_tenant(settings), make_tenant(settings)]
    prospects = [t.add(Prospect, email="ada@acme.io", first_name="Ada", last_name="Lovelace") for t in tenants]
    for tenant in tenants:
        with tenant_session(factory, tenant.organization_id) as db:
            for provider, priority in (("clearbit", 1), ("apollo", 2)):
                service.put_provider(db_session=db, settings=cfg, organization_id=tenant.organization_id,
                                     provider=provider, priority=priority, api_key=f"{provider}-key",
                                     cost_cents_per_request=10)

    with tenant_session(factory, tenants[0].organization_id) as db:
        first = service.enrich_prospect(db_session=db, settings=cfg, prospect_id=prospects[0].id,
                                        wanted=["email", "title"], now=NOW)
    assert first.enrichment_data["email"]["value"] == "ada@acme.io"
    assert first.enrichment_data["email"]["source"] == "apollo"  # Clearbit's address is at a domain that is gone
    assert first.enrichment_data["title"]["source"] == "clearbit"
    assert "oldco-gone.example." in dns_server.asked
    calls = len(handler.calls)

    with tenant_session(factory, tenants[0].organization_id) as db:  # a new session: what another process sees
        again = service.enrich_prospect(db_session=db, settings=cfg, prospect_id=prospects[0].id,
                                        wanted=["email", "title"], now=NOW)
    assert len(handler.calls) == calls, "a cached lookup called a vendor"
    assert [(r.provider, r.cache_hit, r.cost_cents) for r in again.requests] == [
        ("clearbit", True, 0), ("apollo", True, 0)]
    assert again.enrichment_data["email"]["value"] == "ada@acme.io"

    with tenant_session(factory, tenants[1].organization_id) as db:  # the same person, another organization
        other = service.enrich_prospect(db_session=db, settings=cfg, prospect_id=prospects[1].id,
                                        wanted=["email", "title"], now=NOW)
    assert [r.cache_hit for r in other.requests] == [False, False] and len(handler.calls) == calls + 2

    rows = owner_session.execute(text(
        "select organization_id, provider, lookup_hash, answer is null from app.enrichment_cache "
        "where organization_id in (:a, :b) order by organization_id, provider"),
        {"a": tenants[0].organization_id, "b": tenants[1].organization_id}).all()
    assert len(rows) == 4 and not any("acme" in r.lookup_hash for r in rows)
    events = owner_session.execute(text(
        "select payload from app.domain_events where type = 'enrichment.completed' and organization_id = :o "
        "order by (payload ->> 'costCents')::int desc"), {"o": tenants[0].organization_id}).scalars().all()
    assert len(events) == 2
    assert events[0]["fields"] == ["email", "title"] and events[0]["sources"] == ["apollo", "clearbit"]
    assert events[0]["costCents"] == 20 and events[1]["costCents"] == 0 and events[1]["providersAsked"] == []

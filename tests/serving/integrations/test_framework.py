"""The connector framework: tracked calls (success, latency, cost), the provider rate limit, usage rows per hour
under row-level security, sealed credentials and the health formula."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from serving.core.db import session_factory, tenant_session
from serving.integrations.connectors.base import ApiCall, Connector, tracked_client
from serving.integrations.credentials import load_credentials, store_credentials
from serving.integrations.models import AuthType, IntegrationStatus, IntegrationUsageAnalytics, TeamIntegration
from serving.integrations.usage import health_score, track_api_call, usage_since


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 500 if self.path.startswith("/fail") else 200
        body = json.dumps({"ok": status == 200}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _connector(limit: str) -> type[Connector]:
    class Probe(Connector):
        key = f"probe-{uuid.uuid4().hex[:8]}"
        name = "Probe"
        category = "productivity"
        auth_type = AuthType.api_key
        rate_limit = limit
        prices = {"": 10, "/paid": 2500}

    return Probe


def test_every_call_is_recorded_with_success_and_the_price_of_its_endpoint(local_api):
    calls: list[ApiCall] = []
    with tracked_client(_connector("100/minute"), organization_id=uuid.uuid4(), record=calls.append) as http:
        http.get(f"{local_api}/free")
        http.get(f"{local_api}/paid/lookup")
        http.get(f"{local_api}/fail")
    assert [(c.ok, c.cost_micros, c.endpoint) for c in calls] == [
        (True, 10, "/free"), (True, 2500, "/paid/lookup"), (False, 10, "/fail")]
    assert all(c.latency_ms >= 0 for c in calls)


def test_the_provider_rate_limit_makes_the_call_over_it_wait(local_api):
    waits: list[float] = []
    connector = _connector("2/10 seconds")
    org = uuid.uuid4()
    with tracked_client(connector, organization_id=org, record=lambda call: None, sleep=waits.append) as http:
        http.get(f"{local_api}/a")
        http.get(f"{local_api}/b")
        assert waits == []
        # the third call in the window waits for it instead of being sent; the fake sleep cannot free the
        # window, so it is then refused
        with pytest.raises(Exception, match="rate limited"):
            http.get(f"{local_api}/c")
    assert len(waits) == 1 and 0 < waits[0] <= 10
    # another organization has its own window
    with tracked_client(connector, organization_id=uuid.uuid4(), record=lambda call: None, sleep=waits.append) as http:
        assert http.get(f"{local_api}/a").status_code == 200
    assert len(waits) == 1


def test_a_window_longer_than_the_wait_cap_is_refused_without_waiting(local_api):
    waits: list[float] = []
    with tracked_client(_connector("1/hour"), organization_id=uuid.uuid4(), record=lambda call: None,
                        sleep=waits.append) as http:
        http.get(f"{local_api}/a")
        with pytest.raises(Exception, match="rate limited"):
            http.get(f"{local_api}/b")
    assert waits == []


def _installed(session, tenant, settings) -> TeamIntegration:
    integration = TeamIntegration(organization_id=tenant.organization_id, provider="slack",
                                  status=IntegrationStatus.connected, auth_type=AuthType.oauth2)
    store_credentials(settings, integration, access_token="xoxb-secret", refresh_token="xoxe-refresh")
    session.add(integration)
    session.flush()
    return integration


def test_credentials_are_sealed_at_rest_and_open_again(tenant, settings):
    factory = session_factory(settings.api_database_url)
    with tenant_session(factory, tenant.organization_id) as session:
        integration = _installed(session, tenant, settings)
        assert "xoxb-secret" not in integration.sealed_access_token
        opened = load_credentials(settings, integration)
        assert (opened.access_token, opened.refresh_token, opened.api_key) == ("xoxb-secret", "xoxe-refresh", None)
        # a refresh response without a refresh token keeps the one we have
        store_credentials(settings, integration, access_token="xoxb-new")
        assert load_credentials(settings, integration).refresh_token == "xoxe-refresh"
        session.rollback()


def test_track_api_call_adds_up_per_hour_and_is_invisible_to_another_organization(tenant, other_tenant, settings):
    factory = session_factory(settings.api_database_url)
    at = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    with tenant_session(factory, tenant.organization_id) as session:
        integration = _installed(session, tenant, settings)
        for ok, latency in [(True, 100), (False, 300), (True, 200)]:
            track_api_call(session, organization_id=tenant.organization_id, integration_id=integration.id, ok=ok,
                           latency_ms=latency, cost_micros=5, at=at)
        track_api_call(session, organization_id=tenant.organization_id, integration_id=integration.id, ok=True,
                       latency_ms=50, cost_micros=5, at=at.replace(hour=10))
        session.commit()
        integration_id = integration.id
    with tenant_session(factory, tenant.organization_id) as session:
        rows = session.scalars(select(IntegrationUsageAnalytics).order_by(IntegrationUsageAnalytics.hour)).all()
        assert [(r.hour.hour, r.calls, r.errors, r.latency_ms_sum, r.cost_micros, sorted(r.latency_ms_samples))
                for r in rows] == [(9, 3, 1, 600, 15, [100, 200, 300]), (10, 1, 0, 50, 5, [50])]
        assert usage_since(session, integration_id=integration_id, since=at.replace(minute=0)) == (4, 1, 650)
    with tenant_session(factory, other_tenant.organization_id) as session:
        assert session.scalars(select(IntegrationUsageAnalytics)).all() == []
        assert session.scalars(select(TeamIntegration)).all() == []


@pytest.mark.parametrize(("calls", "errors", "latency_sum", "auth_ok", "expected"), [
    (0, 0, 0, True, 100),          # nothing yet, credentials fine
    (10, 0, 1000, True, 100),      # fast and clean
    (10, 5, 1000, True, 70),       # half the calls failed: -30
    (10, 0, 50_000, True, 80),     # 5 s mean latency: the full -20
    (10, 10, 50_000, False, 0),    # everything wrong, floored at 0
    (0, 0, 0, False, 60),          # expired or refused credentials: -40
])
def test_health_score_formula(calls, errors, latency_sum, auth_ok, expected):
    assert health_score(calls=calls, errors=errors, latency_ms_sum=latency_sum, auth_ok=auth_ok) == expected


def test_the_marketplace_lists_the_seed_honestly_and_resyncs_idempotently(owner_session):
    from serving.integrations.catalogue import CATALOGUE, sync_marketplace
    from serving.integrations.connectors import CONNECTORS
    from serving.integrations.models import IntegrationMarketplace

    sync_marketplace(owner_session)
    sync_marketplace(owner_session)
    rows = {row.key: (row.status, row.category) for row in owner_session.scalars(select(IntegrationMarketplace))}
    owner_session.rollback()
    assert set(rows) == {entry[0] for entry in CATALOGUE}
    assert rows["slack"][0] == "available"
    enrichment = {"clearbit", "zoominfo", "apollo"}  # set up with the enrichment providers
    assert {key for key, row in rows.items() if row[0] == "available"} == (set(CONNECTORS) | enrichment) & set(rows)
    assert rows["pipedrive"][0] == "planned"
    assert {row[1] for row in rows.values()} == {
        "crm", "email", "calendar", "communication", "enrichment", "social", "payment", "automation", "analytics"}

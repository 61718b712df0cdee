"""Enriching a stored prospect with the organization's providers: sealed keys, request rows, this month's spend
against the cap, the result in `prospects.enrichment_data`, all under row-level security."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from serving.core.db import session_factory, tenant_session
from serving.core.errors import AppError
from serving.enrichment import service
from serving.enrichment.models import EnrichmentProvider, EnrichmentRequest
from serving.enrichment.runner import AnswerCache
from serving.prospects.models import Prospect
from tests.factories import make_tenant
from tests.serving.enrichment.vendor_fakes import APOLLO, CLEARBIT, NOW, PATHS


def _settings(settings, urls):
    return settings.model_copy(update={f"{name}_base_url": url for name, url in urls.items()})


def test_enrich_a_prospect_records_requests_writes_provenance_and_enforces_the_monthly_cap(settings, vendor):
    handler, urls = vendor
    handler.answers = {PATHS["clearbit"]: (200, CLEARBIT), PATHS["apollo"]: (200, APOLLO)}
    cfg = _settings(settings, urls)
    tenant, other = make_tenant(settings), make_tenant(settings)
    prospect = tenant.add(Prospect, email="ada@acme.io", first_name="Ada", last_name="Lovelace")
    factory = session_factory(settings.api_database_url)
    with tenant_session(factory, tenant.organization_id) as db:
        service.put_provider(db_session=db, settings=cfg, organization_id=tenant.organization_id,
                             provider="clearbit", priority=1, api_key="cb-secret-1234", cost_cents_per_request=60,
                             monthly_cap_cents=100)
        service.put_provider(db_session=db, settings=cfg, organization_id=tenant.organization_id,
                             provider="apollo", priority=2, api_key="ap-secret-9876", cost_cents_per_request=5)
        row = db.scalar(select(EnrichmentProvider).where(EnrichmentProvider.provider == "clearbit"))
        assert "cb-secret" not in row.sealed_api_key
        assert service.key_hint(cfg, row) == "…1234"

    with tenant_session(factory, tenant.organization_id) as db:
        result = service.enrich_prospect(db_session=db, settings=cfg, prospect_id=prospect.id, cache=AnswerCache(),
                                         now=NOW, mx_check=lambda domain: True)
    assert [(r.provider, r.status) for r in result.requests] == [("clearbit", "ok"), ("apollo", "ok")]
    assert next(c for c in handler.calls if c[1] == PATHS["clearbit"])[3]["auth"] == "Bearer cb-secret-1234"

    with tenant_session(factory, tenant.organization_id) as db:
        stored = db.get(Prospect, prospect.id).enrichment_data
        assert stored["title"]["value"] == "VP Engineering" and stored["title"]["source"] == "clearbit"
        assert stored["phone"] == {"value": "+14155550123", "source": "apollo", "confidence": 1.0,
                                   "fetched_at": NOW.isoformat()}
        rows = db.scalars(select(EnrichmentRequest).order_by(EnrichmentRequest.provider)).all()
        assert [(r.provider, r.status, r.cost_cents, r.cache_hit) for r in rows] == [
            ("apollo", "ok", 5, False), ("clearbit", "ok", 60, False)]
        assert "title" in rows[1].fields_returned
        assert service.month_spend(db, NOW) == {"apollo": 5, "clearbit": 60}
        # the request rows are stamped now (server clock); make them count in NOW's month for the next run
        db.execute(text("update app.enrichment_requests set created_at = :at"), {"at": NOW - timedelta(hours=1)})

    # Second run, cache empty: Clearbit's 60 + 60 would pass its 100-cent cap, so it is skipped and says why.
    with tenant_session(factory, tenant.organization_id) as db:
        again = service.enrich_prospect(db_session=db, settings=cfg, prospect_id=prospect.id, cache=AnswerCache(),
                                        now=NOW)
    assert [(r.provider, r.status) for r in again.requests] == [("clearbit", "skipped_cost_cap"), ("apollo", "ok")]
    assert again.requests[0].error == "monthly cost cap reached: 60 of 100 cents spent, a request costs 60"

    # Another organization sees none of it, and cannot enrich this prospect.
    with tenant_session(factory, other.organization_id) as db:
        assert db.scalars(select(EnrichmentRequest)).all() == []
        assert db.scalars(select(EnrichmentProvider)).all() == []
        with pytest.raises(AppError) as exc:
            service.enrich_prospect(db_session=db, settings=cfg, prospect_id=prospect.id, now=NOW)
        assert exc.value.code == "NOT_FOUND"


def test_no_enabled_provider_and_unknown_provider_are_clear_errors(settings):
    tenant = make_tenant(settings)
    prospect = tenant.add(Prospect, email="grace@navy.example")
    factory = session_factory(settings.api_database_url)
    with tenant_session(factory, tenant.organization_id) as db:
        with pytest.raises(AppError) as exc:
            service.enrich_prospect(db_session=db, settings=settings, prospect_id=prospect.id, now=NOW)
        assert exc.value.code == "NO_PROVIDERS"
        with pytest.raises(AppError) as exc:
            service.put_provider(db_session=db, settings=settings, organization_id=tenant.organization_id,
                                 provider="crystal-ball", api_key="x")
        assert exc.value.code == "UNKNOWN_PROVIDER"

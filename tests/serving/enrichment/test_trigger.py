"""A prospect created with `enrichmentEnabled: true` is enriched by a worker job enqueued from `prospect.created`;
one created without it is left alone."""
from __future__ import annotations

from sqlalchemy import text

from serving.core.db import session_factory, tenant_session
from serving.enrichment import jobs, service
from serving.enrichment.flows import ENRICH_TASK
from serving.prospects.models import Prospect
from tests.factories import make_tenant, unique_email
from tests.serving.enrichment.vendor_fakes import PATHS, PDL


def test_prospect_created_with_enrichment_enabled_enqueues_the_job_that_enriches_it(
        client, settings, owner_session, vendor):
    handler, urls = vendor
    handler.answers = {PATHS["pdl"]: (200, PDL)}
    cfg = settings.model_copy(update={f"{name}_base_url": url for name, url in urls.items()})
    tenant = make_tenant(settings)
    factory = session_factory(settings.api_database_url)
    with tenant_session(factory, tenant.organization_id) as db:
        service.put_provider(db_session=db, settings=cfg, organization_id=tenant.organization_id, provider="pdl",
                             api_key="pdl-key")
    wanted = client.post("/api/v1/prospects", headers=tenant.user.headers, json={
        "email": unique_email("ada"), "firstName": "Ada", "enrichmentEnabled": True}).json()
    client.post("/api/v1/prospects", headers=tenant.user.headers, json={"email": unique_email("bob")})
    tenant.deliver_events()

    jobs_args = owner_session.execute(text(
        "select args from procrastinate.procrastinate_jobs where task_name = :t and args ->> 'organization_id' = :o"),
        {"t": ENRICH_TASK, "o": str(tenant.organization_id)}).scalars().all()
    assert jobs_args == [{"organization_id": str(tenant.organization_id), "prospect_id": wanted["id"]}]

    outcome = jobs.enrich(factory=factory, settings=cfg, organization_id=tenant.organization_id,
                          prospect_id=jobs_args[0]["prospect_id"])
    assert outcome["requests"] == 1 and "title" in outcome["fields"]
    with tenant_session(factory, tenant.organization_id) as db:
        data = db.get(Prospect, wanted["id"]).enrichment_data
    assert data["title"] == {"value": "Engineering Director", "source": "pdl", "confidence": 0.9,
                             "fetched_at": data["title"]["fetched_at"]}
    owner_session.execute(text("delete from procrastinate.procrastinate_jobs where task_name = :t and "
                               "args ->> 'organization_id' = :o"), {"t": ENRICH_TASK, "o": str(tenant.organization_id)})
    owner_session.commit()


def test_the_job_skips_quietly_when_the_organization_has_no_provider(settings):
    tenant = make_tenant(settings)
    prospect = tenant.add(Prospect, email=unique_email("carol"), enrichment_enabled=True)
    outcome = jobs.enrich(factory=session_factory(settings.api_database_url), settings=settings,
                          organization_id=tenant.organization_id, prospect_id=prospect.id)
    assert outcome == {"skipped": "NO_PROVIDERS"}


def test_a_rate_limited_vendor_gets_the_prospect_again_after_its_retry_after(settings, owner_session, vendor):
    handler, urls = vendor
    handler.answers = {PATHS["pdl"]: (200, PDL), PATHS["apollo"]: (429, {"error": "slow down"})}
    cfg = settings.model_copy(update={f"{name}_base_url": url for name, url in urls.items()})
    tenant = make_tenant(settings)
    prospect = tenant.add(Prospect, email=unique_email("dora"), first_name="Dora")
    factory = session_factory(settings.api_database_url)
    with tenant_session(factory, tenant.organization_id) as db:
        service.put_provider(db_session=db, settings=cfg, organization_id=tenant.organization_id, provider="apollo",
                             api_key="apollo-key", priority=1)
        service.put_provider(db_session=db, settings=cfg, organization_id=tenant.organization_id, provider="pdl",
                             api_key="pdl-key", priority=2)

    def waiting() -> list:
        return owner_session.execute(text(
            "select args, scheduled_at - now() from procrastinate.procrastinate_jobs where task_name = :t "
            "and status = 'todo' and args ->> 'prospect_id' = :p"), {"t": ENRICH_TASK, "p": str(prospect.id)}).all()

    first = jobs.enrich(factory=factory, settings=cfg, organization_id=tenant.organization_id, prospect_id=prospect.id)
    assert "title" in first["fields"] and first["again_at"]  # pdl answered; apollo asked to come back in 30 s
    [(args, delay)] = waiting()
    assert args == {"organization_id": str(tenant.organization_id), "prospect_id": str(prospect.id), "run": 2}
    assert 25 <= delay.total_seconds() <= 31
    pdl_calls = len([c for c in handler.calls if c[1] == PATHS["pdl"]])

    second = jobs.enrich(factory=factory, settings=cfg, organization_id=tenant.organization_id,
                         prospect_id=prospect.id, run=2)
    assert len([c for c in handler.calls if c[1] == PATHS["pdl"]]) == pdl_calls  # served from the cache
    assert second["again_at"] and len(waiting()) == 1  # the waiting retry answers for this one too
    owner_session.execute(text("delete from procrastinate.procrastinate_jobs where task_name = :t "
                               "and args ->> 'prospect_id' = :p"), {"t": ENRICH_TASK, "p": str(prospect.id)})
    owner_session.commit()
    last = jobs.enrich(factory=factory, settings=cfg, organization_id=tenant.organization_id,
                       prospect_id=prospect.id, run=3)
    assert last["again_at"] is None and waiting() == []  # three runs in all

"""Enrichment with the organization's providers (issue 17 §4): provider settings with sealed keys, and enriching a
prospect — the waterfall over the enabled providers (`runner.run`), one `enrichment_requests` row per provider
considered, this month's spend against each provider's cap, the result written through the prospects service.
Runs in a tenant-bound session (row-level security scopes every read and write to the organization)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from serving.core import outbox
from serving.core.config import Settings
from serving.core.errors import NotFound, ValidationFailed
from serving.core.event_catalogue import EnrichmentCompleted
from serving.core.sealing import seal, unseal
from serving.emails.deliverability import resolver_for
from serving.enrichment import clients
from serving.enrichment.clients import Lookup
from serving.enrichment.models import (
    EnrichmentCacheEntry,
    EnrichmentProvider,
    EnrichmentProviderName,
    EnrichmentRequest,
)
from serving.enrichment.runner import Cache, ProviderSetting, RunResult, run
from serving.enrichment.validation import MxChecker
from serving.enrichment.waterfall import FIELDS, ProviderAnswer
from serving.prospects import service as prospects

KEY_PURPOSE = "integration-credentials"  # the sealing purpose of every integration secret
_MX_CHECKERS: dict[tuple[str, ...], MxChecker] = {}  # per nameserver list: each domain looked up once an hour


class PgAnswerCache:
    """The vendors' answers in `enrichment_cache`, shared by every API and worker process of the organization
    (row-level security keeps it to the session's organization). Written in the caller's transaction: an
    enrichment that fails leaves no answer behind that nobody was charged for."""

    def __init__(self, db_session: Session, organization_id: uuid.UUID, ttl: timedelta) -> None:
        self.db_session, self.organization_id, self.ttl = db_session, organization_id, ttl

    @staticmethod
    def _hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def get(self, provider: str, key: str, now: datetime) -> tuple[bool, ProviderAnswer | None]:
        row = self.db_session.scalar(select(EnrichmentCacheEntry).where(
            EnrichmentCacheEntry.provider == provider, EnrichmentCacheEntry.lookup_hash == self._hash(key)))
        if row is None or now - row.fetched_at > self.ttl:
            return False, None
        if row.answer is None:
            return True, None
        return True, ProviderAnswer(provider, row.answer["fields"], float(row.answer["confidence"]))

    def put(self, provider: str, key: str, answer: ProviderAnswer | None, now: datetime) -> None:
        value = None if answer is None else {"fields": dict(answer.fields), "confidence": answer.confidence}
        statement = insert(EnrichmentCacheEntry).values(
            id=uuid.uuid4(), organization_id=self.organization_id, provider=provider, lookup_hash=self._hash(key),
            answer=value, fetched_at=now)
        self.db_session.execute(statement.on_conflict_do_update(
            index_elements=["organization_id", "provider", "lookup_hash"],
            set_={"answer": statement.excluded.answer, "fetched_at": statement.excluded.fetched_at,
                  "updated_at": func.now()}))


def mx_checker(settings: Settings) -> Callable[[str], bool | None] | None:
    """The MX check the settings ask for: None when `ENRICHMENT_VERIFY_MX` is off; one remembering checker per
    nameserver list."""
    if not settings.enrichment_verify_mx:
        return None
    servers = tuple(settings.dns_nameservers)
    if servers not in _MX_CHECKERS:
        _MX_CHECKERS[servers] = MxChecker(resolver_for(settings))
    return _MX_CHECKERS[servers]


def put_provider(*, db_session: Session, settings: Settings, organization_id: uuid.UUID, provider: str,
                 enabled: bool = True, priority: int = 100, api_key: str | None = None,
                 cost_cents_per_request: int = 0, monthly_cap_cents: int | None = None) -> EnrichmentProvider:
    """Create or update the organization's settings for one provider; `api_key=None` keeps the stored key."""
    if provider not in EnrichmentProviderName.__members__:
        raise ValidationFailed(f"unknown enrichment provider: {provider}", code="UNKNOWN_PROVIDER",
                               details={"field": "provider", "allowed": list(EnrichmentProviderName)})
    row = db_session.scalar(select(EnrichmentProvider).where(EnrichmentProvider.provider == provider))
    if row is None:
        row = EnrichmentProvider(organization_id=organization_id, provider=provider)
        db_session.add(row)
    row.enabled, row.priority = enabled, priority
    row.cost_cents_per_request, row.monthly_cap_cents = cost_cents_per_request, monthly_cap_cents
    if api_key is not None:
        row.sealed_api_key = seal(settings, api_key, purpose=KEY_PURPOSE) if api_key else None
    db_session.flush()
    db_session.refresh(row)  # server-side updated_at
    return row


def key_hint(settings: Settings, row: EnrichmentProvider) -> str | None:
    """The last four characters of the key, never the key."""
    if not row.sealed_api_key:
        return None
    return "…" + unseal(settings, row.sealed_api_key, purpose=KEY_PURPOSE)[-4:]


def month_spend(db_session: Session, now: datetime) -> dict[str, int]:
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    rows = db_session.execute(select(EnrichmentRequest.provider, func.sum(EnrichmentRequest.cost_cents))
                              .where(EnrichmentRequest.created_at >= start).group_by(EnrichmentRequest.provider))
    return {provider: int(total or 0) for provider, total in rows}


def enrich_prospect(*, db_session: Session, settings: Settings, prospect_id: uuid.UUID,
                    wanted: Sequence[str] = FIELDS, http: httpx.Client | None = None,
                    cache: Cache | None = None, mx_check: Callable[[str], bool | None] | None = None,
                    now: datetime | None = None) -> RunResult:
    """The waterfall for one prospect; `mx_check` overrides the settings' MX check."""
    unknown = [f for f in wanted if f not in FIELDS]
    if unknown:
        raise ValidationFailed(f"unknown enrichment fields: {', '.join(unknown)}", code="UNKNOWN_FIELD",
                               details={"field": "fields", "allowed": list(FIELDS)})
    prospect = prospects.get(db_session=db_session, prospect_id=prospect_id)
    if prospect is None:
        raise NotFound("prospect", prospect_id)
    now = now or datetime.now(UTC)
    spend = month_spend(db_session, now)
    rows = db_session.scalars(select(EnrichmentProvider).where(EnrichmentProvider.enabled.is_(True),
                                                              EnrichmentProvider.sealed_api_key.is_not(None)))
    providers = [ProviderSetting(row.provider, unseal(settings, row.sealed_api_key, purpose=KEY_PURPOSE),
                                 row.priority, row.cost_cents_per_request, row.monthly_cap_cents,
                                 spend.get(row.provider, 0)) for row in rows if row.sealed_api_key]
    if not providers:
        raise ValidationFailed("no enrichment provider is enabled with an API key", code="NO_PROVIDERS")
    domain = prospect.email.rsplit("@", 1)[1] if "@" in prospect.email else None
    lookup = Lookup(email=prospect.email, first_name=prospect.first_name, last_name=prospect.last_name,
                    company_domain=domain, company_name=prospect.company)
    cache = cache or PgAnswerCache(db_session, prospect.organization_id,
                                   timedelta(days=settings.enrichment_cache_days))
    mx_check = mx_check or mx_checker(settings)
    own_client = http is None
    http = http or httpx.Client(timeout=settings.enrichment_timeout_seconds)
    try:
        result = run(lookup, providers, http=http, base_urls=clients.base_urls(settings), cache=cache, now=now,
                     wanted=wanted, mx_check=mx_check)
    finally:
        if own_client:
            http.close()
    for record in result.requests:
        db_session.add(EnrichmentRequest(
            organization_id=prospect.organization_id, prospect_id=prospect.id, provider=record.provider,
            status=record.status, fields_returned=list(record.fields_returned), cost_cents=record.cost_cents,
            latency_ms=record.latency_ms, cache_hit=record.cache_hit, error=record.error))
    if result.enrichment_data:
        prospects.set_enrichment_data(db_session=db_session, prospect=prospect, data=result.enrichment_data)
    outbox.publish(
        db_session, organization_id=prospect.organization_id, type="enrichment.completed", subject_id=prospect.id,
        occurred_at=now, payload=EnrichmentCompleted(
            prospect_id=prospect.id, fields=sorted(result.enrichment_data),
            sources=sorted({str(v["source"]) for v in result.enrichment_data.values()}),
            providers_asked=[r.provider for r in result.requests if not r.cache_hit],
            cost_cents=sum(r.cost_cents for r in result.requests)))
    db_session.flush()
    return result


def providers(*, db_session: Session) -> list[EnrichmentProvider]:
    return list(db_session.scalars(select(EnrichmentProvider).order_by(EnrichmentProvider.priority,
                                                                       EnrichmentProvider.provider)))


def requests_query(*, prospect_id: uuid.UUID | None = None, provider: str | None = None,
                   status: str | None = None) -> Select:
    query = select(EnrichmentRequest).order_by(EnrichmentRequest.created_at.desc(), EnrichmentRequest.id)
    if prospect_id is not None:
        query = query.where(EnrichmentRequest.prospect_id == prospect_id)
    if provider is not None:
        query = query.where(EnrichmentRequest.provider == provider)
    if status is not None:
        query = query.where(EnrichmentRequest.status == status)
    return query


def usage(*, db_session: Session, now: datetime) -> list[dict[str, object]]:
    """This month per provider: requests, cache hits, matches, cost, and the cap."""
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    rows = db_session.execute(
        select(EnrichmentRequest.provider, func.count(), func.count().filter(EnrichmentRequest.cache_hit),
               func.count().filter(EnrichmentRequest.status == "ok"), func.coalesce(func.sum(
                   EnrichmentRequest.cost_cents), 0))
        .where(EnrichmentRequest.created_at >= start).group_by(EnrichmentRequest.provider)).all()
    caps = {p.provider: p.monthly_cap_cents for p in providers(db_session=db_session)}
    return [{"provider": provider, "requests": total, "cache_hits": hits, "matches": matches,
             "cost_cents": int(cost), "monthly_cap_cents": caps.get(provider)}
            for provider, total, hits, matches, cost in sorted(rows)]

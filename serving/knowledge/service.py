"""The company knowledge base's own logic: store a source's text as embedded chunks, search them by meaning.

A source is replaced whole when its text changes (its content hash differs): old chunks are deleted and new
ones embedded, in the caller's transaction, so a search never sees half of a source. Unchanged text costs one
hash comparison, no embedding.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from models.embeddings import Embedder, chunk
from serving.accounts import service as accounts
from serving.core import queue
from serving.core.clock import utcnow
from serving.core.config import Settings
from serving.core.db import tenant_session
from serving.core.errors import Conflict, ValidationFailed
from serving.knowledge import crawler, quality, signals
from serving.knowledge.embedding import configured_embedder
from serving.knowledge.models import CompanyResearchSource, CrawlStatus, KnowledgeDocument, KnowledgeWebsite

MAX_TEXT = 2_000_000  # characters of one source (about 300k words)


def _vector_literal(vector) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


def embedding_text(title: str | None, content: str) -> str:
    """What a chunk's vector is made from: the title gives a short chunk its context."""
    return f"{title}. {content}" if title else content


@dataclass
class StoredSource:
    source: CompanyResearchSource
    chunks: int
    changed: bool


def add_source(*, db_session: Session, organization_id: uuid.UUID, source_type: str, text_content: str,
               url: str | None = None, title: str | None = None, company_profile_id: uuid.UUID | None = None,
               website_id: uuid.UUID | None = None, published_at: datetime | None = None,
               quality_score: int | None = None, metadata: dict[str, Any] | None = None,
               embedder: Embedder | None = None) -> StoredSource:
    """Create or refresh the source identified by (company, url) — or a new one when there is no url — and its
    embedded chunks."""
    body = " ".join(text_content.split())
    if not body:
        raise ValidationFailed("the source has no text", details={"field": "text"})
    if len(body) > MAX_TEXT:
        raise ValidationFailed(f"the source's text is longer than {MAX_TEXT:,} characters",
                               details={"field": "text", "length": len(body)})
    digest = hashlib.sha256(body.encode()).hexdigest()
    source = None
    if url:
        source = db_session.scalar(select(CompanyResearchSource).where(
            CompanyResearchSource.url == url,
            CompanyResearchSource.company_profile_id.is_(None) if company_profile_id is None
            else CompanyResearchSource.company_profile_id == company_profile_id))
    if source is None:
        source = CompanyResearchSource(organization_id=organization_id, company_profile_id=company_profile_id,
                                       url=url, source_type=source_type)
        db_session.add(source)
    elif source.content_hash == digest:
        source.fetched_at = utcnow()
        return StoredSource(source, 0, False)
    source.source_type = source_type
    source.title = title
    source.website_id = website_id
    source.published_at = published_at
    source.quality_score = quality_score
    source.metadata_ = metadata or {}
    source.content_hash = digest
    source.fetched_at = utcnow()
    db_session.flush()
    db_session.execute(delete(KnowledgeDocument).where(KnowledgeDocument.source_id == source.id))
    pieces = chunk(body)
    model = embedder or configured_embedder()
    vectors = model.embed([embedding_text(title, piece) for piece in pieces])
    db_session.add_all([
        KnowledgeDocument(organization_id=organization_id, company_profile_id=company_profile_id,
                          source_id=source.id, title=title, url=url, content=piece, chunk_index=i,
                          embedding=vector.tolist(), embedding_model=model.model,
                          metadata_={"source_type": source_type})
        for i, (piece, vector) in enumerate(zip(pieces, vectors, strict=True))])
    db_session.flush()
    return StoredSource(source, len(pieces), True)


# HNSW candidates per query: `bench_search` at 200,000 clustered vectors measured recall@10 0.93 at 80 and 0.984 at
# 160, with p99 5–8 ms either way (docs/performance.md); the target is ≥ 0.95 at p99 ≤ 10 ms.
EF_SEARCH = 160


def match(*, db_session: Session, query: str, threshold: float = 0.5, limit: int = 10,
          company_profile_id: uuid.UUID | None = None, embedder: Embedder | None = None,
          ef_search: int = EF_SEARCH) -> list[dict]:
    """The chunks most similar in meaning to `query` (cosine similarity ≥ threshold), best first, through the
    seed's `match_knowledge_documents` (row-level security applies: the caller's organization only)."""
    model = embedder or configured_embedder()
    [vector] = model.embed([query])
    # HNSW returns at most ef_search candidates: it must be at least the number asked for
    db_session.execute(text(f"set local hnsw.ef_search = {max(int(ef_search), int(limit))}"))
    rows = db_session.execute(text(
        "select * from app.match_knowledge_documents(cast(:embedding as vector), :threshold, :limit, :company, "
        ":model)"),
        {"embedding": _vector_literal(vector), "threshold": threshold, "limit": limit,
         "company": company_profile_id, "model": model.model}).mappings().all()
    return [dict(row) for row in rows]


def sources(*, company_profile_id: uuid.UUID | None = None):
    statement = select(CompanyResearchSource).order_by(CompanyResearchSource.created_at.desc(),
                                                       CompanyResearchSource.id)
    if company_profile_id:
        statement = statement.where(CompanyResearchSource.company_profile_id == company_profile_id)
    return statement


def delete_source(*, db_session: Session, source_id: uuid.UUID) -> bool:
    return db_session.execute(delete(CompanyResearchSource).where(CompanyResearchSource.id == source_id)
                              ).rowcount > 0


# -- websites and crawling --------------------------------------------------------------------------------------

CRAWL_TASK = "knowledge.crawl_website"
STUCK_CRAWL = timedelta(hours=2)  # a crawl's time budget is minutes; one "crawling" for longer has died


def _check_profile(db_session: Session, company_profile_id: uuid.UUID | None) -> None:
    # under row-level security another organization's profile is simply not there
    if company_profile_id and accounts.company_profile(db_session=db_session,
                                                       company_profile_id=company_profile_id) is None:
        raise ValidationFailed("no such company profile", details={"field": "companyProfileId"})


def research_source(*, db_session: Session, organization_id: uuid.UUID, source_type: str, text_content: str,
                    url: str | None = None, title: str | None = None, company_profile_id: uuid.UUID | None = None,
                    published_at: datetime | None = None, embedder: Embedder | None = None) -> tuple[StoredSource,
                                                                                                     list]:
    """A source added by hand or by API (a news item, a document): scored, stored, and — when it is about a
    company and its text is new — read for buying signals."""
    _check_profile(db_session, company_profile_id)
    now = utcnow()
    domain = accounts.company_profile_domain(db_session=db_session, company_profile_id=company_profile_id) \
        if company_profile_id else None
    host = (urlsplit(url).hostname or "") if url else ""
    first_party = bool(domain and host and crawler.registrable_domain(host) == crawler.registrable_domain(domain))
    score = quality.score(text=text_content, now=now, first_party=first_party, has_url=bool(url),
                          dated=published_at, title=title)
    model = embedder or configured_embedder()
    stored = add_source(db_session=db_session, organization_id=organization_id, source_type=source_type,
                        text_content=text_content, url=url, title=title, company_profile_id=company_profile_id,
                        published_at=published_at, quality_score=score, embedder=model)
    found = []
    if stored.changed and company_profile_id:
        detected = signals.detect(text_content, embedder=model, url=url, date=published_at or now,
                                  source_id=stored.source.id)
        found = signals.record(db_session=db_session, organization_id=organization_id,
                               company_profile_id=company_profile_id, signals=detected, occurred_at=now)
    return stored, found


def create_website(*, db_session: Session, organization_id: uuid.UUID, url: str,
                   company_profile_id: uuid.UUID | None = None, max_depth: int = 2, max_pages: int = 50,
                   recrawl_days: int = 7) -> KnowledgeWebsite:
    normal = crawler.normalise(url)
    if normal is None:
        raise ValidationFailed("the website must be an http(s) URL", details={"field": "url"})
    _check_profile(db_session, company_profile_id)
    if db_session.scalar(select(KnowledgeWebsite.id).where(KnowledgeWebsite.url == normal)):
        raise Conflict("this website is already in the knowledge base", details={"url": normal})
    website = KnowledgeWebsite(organization_id=organization_id, company_profile_id=company_profile_id, url=normal,
                               max_depth=max_depth, max_pages=max_pages, recrawl_days=recrawl_days,
                               status=CrawlStatus.pending)
    db_session.add(website)
    db_session.flush()
    return website


def websites(*, company_profile_id: uuid.UUID | None = None):
    statement = select(KnowledgeWebsite).order_by(KnowledgeWebsite.created_at.desc(), KnowledgeWebsite.id)
    if company_profile_id:
        statement = statement.where(KnowledgeWebsite.company_profile_id == company_profile_id)
    return statement


def get_website(*, db_session: Session, website_id: uuid.UUID) -> KnowledgeWebsite | None:
    return db_session.get(KnowledgeWebsite, website_id)


def request_crawl(*, db_session: Session, website: KnowledgeWebsite) -> None:
    """Queue a crawl in the caller's transaction; a crawl already waiting for the site absorbs this one."""
    queue.enqueue(db_session, CRAWL_TASK, queueing_lock=f"crawl:{website.id}",
                  organization_id=str(website.organization_id), website_id=str(website.id))
    if website.status != CrawlStatus.crawling:
        website.status = CrawlStatus.pending


def due_websites(*, db_session: Session, now: datetime) -> list[KnowledgeWebsite]:
    """Websites never crawled, or whose last crawl is older than their `recrawl_days` — and not crawling now,
    unless that crawl has been silent for longer than any crawl runs (its worker died)."""
    return list(db_session.scalars(select(KnowledgeWebsite).where(
        (KnowledgeWebsite.status != CrawlStatus.crawling) | (KnowledgeWebsite.updated_at < now - STUCK_CRAWL),
        (KnowledgeWebsite.last_crawled_at.is_(None))
        | (KnowledgeWebsite.last_crawled_at + func.make_interval(0, 0, 0, KnowledgeWebsite.recrawl_days) <= now),
    ).order_by(KnowledgeWebsite.last_crawled_at.asc().nulls_first())))


@dataclass
class CrawlSummary:
    status: str
    pages: int = 0
    changed: int = 0
    removed: int = 0
    signals: int = 0
    skipped: dict[str, int] | None = None
    error: str | None = None


def _count(skipped: dict[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for reason in skipped.values():
        counts[reason] = counts.get(reason, 0) + 1
    return counts


def _mark(factory: sessionmaker[Session], organization_id: uuid.UUID, website_id: uuid.UUID, **values) -> None:
    with tenant_session(factory, organization_id) as session:
        session.execute(update(KnowledgeWebsite).where(KnowledgeWebsite.id == website_id).values(**values))


def crawl_website(*, factory: sessionmaker[Session], settings: Settings, organization_id: uuid.UUID,
                  website_id: uuid.UUID, embedder: Embedder | None = None,
                  transport: httpx.BaseTransport | None = None) -> CrawlSummary:
    """Crawl a website and store its pages (the worker's job). Three transactions: mark it crawling; fetch with
    none open; store every page, its signals and the website's new state in one (a failed crawl leaves the
    previous pages as they were and says why in `last_error`)."""
    with tenant_session(factory, organization_id) as session:
        website = session.get(KnowledgeWebsite, website_id)
        if website is None:
            return CrawlSummary(status="missing")
        website.status = CrawlStatus.crawling
        url, company_profile_id = website.url, website.company_profile_id
        limits = crawler.Limits(max_depth=website.max_depth, max_pages=website.max_pages,
                                max_bytes=settings.crawler_max_page_bytes, timeout=settings.crawler_timeout_seconds,
                                allow_private=settings.crawler_allow_private_networks)
    try:
        result = crawler.crawl(url, limits, transport=transport)
    except (crawler.CrawlRefused, httpx.HTTPError) as exc:
        _mark(factory, organization_id, website_id, status=CrawlStatus.failed, last_error=str(exc)[:1000])
        return CrawlSummary(status=CrawlStatus.failed, error=str(exc))
    if not result.pages:
        # nothing to store (robots forbids all, every page failed): keep what the last good crawl stored
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(_count(result.skipped).items()))
        _mark(factory, organization_id, website_id, status=CrawlStatus.failed,
              last_error=f"no page could be stored ({reasons or 'the site has no pages'})"[:1000])
        return CrawlSummary(status=CrawlStatus.failed, skipped=_count(result.skipped), error=reasons)
    try:
        summary = _store(factory, organization_id, website_id, company_profile_id, url, result,
                         embedder or configured_embedder(settings))
    except Exception as exc:
        _mark(factory, organization_id, website_id, status=CrawlStatus.failed,
              last_error=f"storing the pages failed: {type(exc).__name__}: {exc}"[:1000])
        raise
    return summary


def _store(factory, organization_id, website_id, company_profile_id, url, result: crawler.CrawlResult,
           embedder: Embedder | None) -> CrawlSummary:
    now = utcnow()
    model = embedder or configured_embedder()
    site = crawler.registrable_domain(urlsplit(url).hostname or "")
    chrome = quality.boilerplate_lines(page.text for page in result.pages)
    summary = CrawlSummary(status=CrawlStatus.done, pages=len(result.pages), skipped=_count(result.skipped))
    with tenant_session(factory, organization_id) as session:
        scores = []
        for page in result.pages:
            score = quality.score(text=page.text, now=now, first_party=True, has_url=True,
                                  dated=page.published_at or page.last_modified, title=page.title,
                                  description=page.description,
                                  boilerplate=quality.boilerplate_share(page.text, chrome))
            scores.append(score)
            stored = add_source(db_session=session, organization_id=organization_id, source_type="website_page",
                                text_content=page.text, url=page.url, title=page.title,
                                company_profile_id=company_profile_id, website_id=website_id,
                                published_at=page.published_at, quality_score=score, embedder=model,
                                metadata={"description": page.description, "depth": page.depth,
                                          "last_modified": page.last_modified.isoformat()
                                          if page.last_modified else None})
            if not stored.changed:
                continue
            summary.changed += 1
            if company_profile_id:
                detected = signals.detect(page.text, embedder=model, url=page.url,
                                          date=page.published_at or page.last_modified or now,
                                          source_id=stored.source.id)
                summary.signals += len(signals.record(
                    db_session=session, organization_id=organization_id, company_profile_id=company_profile_id,
                    signals=detected, occurred_at=now, fallback_domain=site))
        # pages gone from the site (or now disallowed, or past the caps) leave the knowledge base
        kept = [page.url for page in result.pages]
        summary.removed = session.execute(delete(CompanyResearchSource).where(
            CompanyResearchSource.website_id == website_id,
            CompanyResearchSource.source_type == "website_page",
            CompanyResearchSource.url.not_in(kept))).rowcount
        session.execute(update(KnowledgeWebsite).where(KnowledgeWebsite.id == website_id).values(
            status=CrawlStatus.done, pages_crawled=len(result.pages), last_crawled_at=now, last_error=None))
        if company_profile_id and scores:
            accounts.set_research_quality(db_session=session, company_profile_id=company_profile_id,
                                          score=round(sum(scores) / len(scores)))
    return summary


# -- embedding backfill (Dagster) -------------------------------------------------------------------------------

def stale_embeddings(*, db_session: Session, model: str, batch_size: int = 256,
                     after: uuid.UUID | None = None) -> list[tuple[uuid.UUID, str]]:
    """The next chunks (by id, after `after`) with no vector or a vector of another model, with the text to
    embed."""
    statement = (select(KnowledgeDocument.id, KnowledgeDocument.title, KnowledgeDocument.content)
                 .where((KnowledgeDocument.embedding.is_(None)) | (KnowledgeDocument.embedding_model.is_(None))
                        | (KnowledgeDocument.embedding_model != model))
                 .order_by(KnowledgeDocument.id).limit(batch_size))
    if after is not None:
        statement = statement.where(KnowledgeDocument.id > after)
    return [(row.id, embedding_text(row.title, row.content)) for row in db_session.execute(statement)]


def count_stale_embeddings(*, db_session: Session, model: str) -> int:
    return db_session.scalar(select(func.count()).select_from(KnowledgeDocument).where(
        (KnowledgeDocument.embedding.is_(None)) | (KnowledgeDocument.embedding_model.is_(None))
        | (KnowledgeDocument.embedding_model != model))) or 0


def store_embeddings(*, db_session: Session, ids: list[uuid.UUID], vectors, model: str) -> None:
    db_session.execute(update(KnowledgeDocument), [
        {"id": document_id, "embedding": vector.tolist(), "embedding_model": model}
        for document_id, vector in zip(ids, vectors, strict=True)])

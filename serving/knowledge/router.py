"""/knowledge: the company knowledge base — semantic search (seed: `POST /api/v1/knowledge/search`), its
sources (documents and news items added by hand, read for buying signals) and the websites crawled into it."""

from __future__ import annotations

import time
import uuid
from typing import Annotated

from fastapi import APIRouter

from serving.core.deps import DbSession, require
from serving.core.errors import NotFound
from serving.core.pagination import Page, Pagination, page_of, paginate
from serving.core.permissions import Scope
from serving.core.principal import Principal
from serving.knowledge import service
from serving.knowledge.schemas import (
    BuyingSignalOut,
    KnowledgeSearchIn,
    KnowledgeSearchOut,
    SourceIn,
    SourceOut,
    SourceResearchOut,
    WebsiteIn,
    WebsiteOut,
)

router = APIRouter()

Reader = Annotated[Principal, require(Scope.knowledge_read)]
Writer = Annotated[Principal, require(Scope.knowledge_write)]


@router.post("/search", response_model=KnowledgeSearchOut, summary="Find knowledge by meaning, not only by words")
def search_knowledge(body: KnowledgeSearchIn, db: DbSession, principal: Reader):
    started = time.perf_counter()
    matches = service.match(db_session=db, query=body.query, threshold=body.threshold, limit=body.limit,
                            company_profile_id=body.company_profile_id)
    return {"query": body.query, "matches": matches, "search_time": round((time.perf_counter() - started) * 1000)}


@router.post("/sources", response_model=SourceResearchOut, status_code=201,
             summary="Add a document or news item (chunked and embedded at once; scored; read for buying signals)")
def add_source(body: SourceIn, db: DbSession, principal: Writer):
    stored, found = service.research_source(db_session=db, organization_id=principal.organization_id,
                                            source_type=body.source_type, text_content=body.text, url=body.url,
                                            title=body.title, company_profile_id=body.company_profile_id,
                                            published_at=body.published_at)
    out = SourceResearchOut.model_validate(stored.source)
    out.chunks = stored.chunks
    out.signals = [BuyingSignalOut.model_validate(signal) for signal in found]
    return out


@router.get("/sources", response_model=Page[SourceOut], summary="The knowledge base's sources, newest first")
def list_sources(db: DbSession, principal: Reader, pagination: Pagination, company_profile_id: uuid.UUID | None = None):
    items, meta = paginate(db, service.sources(company_profile_id=company_profile_id), pagination)
    return page_of([SourceOut.model_validate(s) for s in items], meta)


@router.delete("/sources/{source_id}", status_code=204, summary="Remove a source and its chunks")
def delete_source(source_id: uuid.UUID, db: DbSession, principal: Writer) -> None:
    if not service.delete_source(db_session=db, source_id=source_id):
        raise NotFound("knowledge source", source_id)


@router.post("/websites", response_model=WebsiteOut, status_code=201,
             summary="Add a company website to crawl (the crawl itself is queued with POST …/crawl)")
def add_website(body: WebsiteIn, db: DbSession, principal: Writer):
    return service.create_website(db_session=db, organization_id=principal.organization_id, url=body.url,
                                  company_profile_id=body.company_profile_id, max_depth=body.max_depth,
                                  max_pages=body.max_pages, recrawl_days=body.recrawl_days)


@router.get("/websites", response_model=Page[WebsiteOut], summary="The websites crawled into the knowledge base")
def list_websites(db: DbSession, principal: Reader, pagination: Pagination,
                  company_profile_id: uuid.UUID | None = None):
    items, meta = paginate(db, service.websites(company_profile_id=company_profile_id), pagination)
    return page_of([WebsiteOut.model_validate(w) for w in items], meta)


@router.get("/websites/{website_id}", response_model=WebsiteOut, summary="A website and its last crawl")
def get_website(website_id: uuid.UUID, db: DbSession, principal: Reader):
    website = service.get_website(db_session=db, website_id=website_id)
    if website is None:
        raise NotFound("knowledge website", website_id)
    return website


@router.post("/websites/{website_id}/crawl", response_model=WebsiteOut, status_code=202,
             summary="Queue a crawl of the website (a worker job; a crawl already queued absorbs this one)")
def crawl_website(website_id: uuid.UUID, db: DbSession, principal: Writer):
    website = service.get_website(db_session=db, website_id=website_id)
    if website is None:
        raise NotFound("knowledge website", website_id)
    service.request_crawl(db_session=db, website=website)
    return website

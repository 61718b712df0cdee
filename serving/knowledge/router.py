"""/knowledge: the company knowledge base — semantic search (seed: `POST /api/v1/knowledge/search`) and its
sources (documents added by hand; crawled pages arrive through the crawler)."""

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
from serving.knowledge.schemas import KnowledgeSearchIn, KnowledgeSearchOut, SourceIn, SourceOut

router = APIRouter()

Reader = Annotated[Principal, require(Scope.knowledge_read)]
Writer = Annotated[Principal, require(Scope.knowledge_write)]


@router.post("/search", response_model=KnowledgeSearchOut, summary="Find knowledge by meaning, not only by words")
def search_knowledge(body: KnowledgeSearchIn, db: DbSession, principal: Reader):
    started = time.perf_counter()
    matches = service.match(db_session=db, query=body.query, threshold=body.threshold, limit=body.limit,
                            company_profile_id=body.company_profile_id)
    return {"query": body.query, "matches": matches, "search_time": round((time.perf_counter() - started) * 1000)}


@router.post("/sources", response_model=SourceOut, status_code=201,
             summary="Add a document to the knowledge base (chunked and embedded at once)")
def add_source(body: SourceIn, db: DbSession, principal: Writer):
    stored = service.add_source(db_session=db, organization_id=principal.organization_id,
                                source_type=body.source_type, text_content=body.text, url=body.url,
                                title=body.title, company_profile_id=body.company_profile_id,
                                published_at=body.published_at)
    out = SourceOut.model_validate(stored.source)
    out.chunks = stored.chunks
    return out


@router.get("/sources", response_model=Page[SourceOut], summary="The knowledge base's sources, newest first")
def list_sources(db: DbSession, principal: Reader, pagination: Pagination, company_profile_id: uuid.UUID | None = None):
    items, meta = paginate(db, service.sources(company_profile_id=company_profile_id), pagination)
    return page_of([SourceOut.model_validate(s) for s in items], meta)


@router.delete("/sources/{source_id}", status_code=204, summary="Remove a source and its chunks")
def delete_source(source_id: uuid.UUID, db: DbSession, principal: Writer) -> None:
    if not service.delete_source(db_session=db, source_id=source_id):
        raise NotFound("knowledge source", source_id)

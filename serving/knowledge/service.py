"""The company knowledge base's own logic: store a source's text as embedded chunks, search them by meaning.

A source is replaced whole when its text changes (its content hash differs): old chunks are deleted and new
ones embedded, in the caller's transaction, so a search never sees half of a source. Unchanged text costs one
hash comparison, no embedding.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from models.embeddings import Embedder, chunk, local_embedder
from serving.core.clock import utcnow
from serving.core.errors import ValidationFailed
from serving.knowledge.models import CompanyResearchSource, KnowledgeDocument

MAX_TEXT = 2_000_000  # characters of one source (about 300k words)


def _vector_literal(vector) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


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
    model = embedder or local_embedder()
    vectors = model.embed([f"{title}. {piece}" if title else piece for piece in pieces])
    db_session.add_all([
        KnowledgeDocument(organization_id=organization_id, company_profile_id=company_profile_id,
                          source_id=source.id, title=title, url=url, content=piece, chunk_index=i,
                          embedding=vector.tolist(), embedding_model=model.model,
                          metadata_={"source_type": source_type})
        for i, (piece, vector) in enumerate(zip(pieces, vectors, strict=True))])
    db_session.flush()
    return StoredSource(source, len(pieces), True)


def match(*, db_session: Session, query: str, threshold: float = 0.5, limit: int = 10,
          company_profile_id: uuid.UUID | None = None, embedder: Embedder | None = None,
          ef_search: int = 100) -> list[dict]:
    """The chunks most similar in meaning to `query` (cosine similarity ≥ threshold), best first, through the
    seed's `match_knowledge_documents` (row-level security applies: the caller's organization only)."""
    model = embedder or local_embedder()
    [vector] = model.embed([query])
    # HNSW returns at most ef_search candidates: it must be at least the number asked for
    db_session.execute(text(f"set local hnsw.ef_search = {max(int(ef_search), int(limit))}"))
    rows = db_session.execute(text(
        "select * from app.match_knowledge_documents(cast(:embedding as vector), :threshold, :limit, :company)"),
        {"embedding": _vector_literal(vector), "threshold": threshold, "limit": limit,
         "company": company_profile_id}).mappings().all()
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

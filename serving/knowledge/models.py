"""The company knowledge base (seed 4.2): chunked documents with embeddings, the websites crawled into them, the
research sources they came from, and spokesperson training sessions. `company_profiles` (the companies
researched) belongs to accounts.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pgvector.sqlalchemy import Vector
from sqlalchemy import ForeignKey, Index, Integer, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.embeddings import DIMENSIONS
from serving.core.db import Base, IdMixin, TimestampMixin
from serving.core.enums import check_in, check_score


class SourceType(StrEnum):
    website_page = "website_page"
    news = "news"
    document = "document"
    manual = "manual"


class CrawlStatus(StrEnum):
    pending = "pending"
    crawling = "crawling"
    done = "done"
    failed = "failed"


class KnowledgeDocument(IdMixin, TimestampMixin, Base):
    """One chunk of a source's text and its embedding."""

    __tablename__ = "knowledge_documents"
    __table_args__ = (
        UniqueConstraint("organization_id", "source_id", "chunk_index"),
        Index("ix_knowledge_documents_company", "organization_id", "company_profile_id"),
        Index("ix_knowledge_documents_embedding", "embedding", postgresql_using="hnsw",
              postgresql_with={"m": 16, "ef_construction": 64}, postgresql_ops={"embedding": "vector_cosine_ops"}),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"),
                                                       index=True)
    company_profile_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("company_profiles.id", ondelete="CASCADE"))
    source_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("company_research_sources.id", ondelete="CASCADE"), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    chunk_index: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    embedding: Mapped[list[float] | None] = mapped_column(Vector(DIMENSIONS))
    # the model that made the vector; vectors of different models are never compared
    embedding_model: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict] = mapped_column("metadata", JSONB, default=dict, server_default="{}")


class CompanyResearchSource(IdMixin, TimestampMixin, Base):
    __tablename__ = "company_research_sources"
    __table_args__ = (
        check_in("source_type", SourceType, nullable=False),
        check_score("quality_score"),
        UniqueConstraint("organization_id", "company_profile_id", "url",
                         name="uq_company_research_sources_profile_url"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"),
                                                       index=True)
    company_profile_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("company_profiles.id", ondelete="CASCADE", name="fk_company_research_sources_profile"), index=True)
    website_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("knowledge_websites.id", ondelete="CASCADE"))
    source_type: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(Text)
    # 0–100: how much a rep can rely on it (length, substance, freshness, first-party or not)
    quality_score: Mapped[int | None]
    published_at: Mapped[datetime | None]
    fetched_at: Mapped[datetime | None]
    metadata_: Mapped[dict] = mapped_column("metadata", JSONB, default=dict, server_default="{}")


class KnowledgeWebsite(IdMixin, TimestampMixin, Base):
    __tablename__ = "knowledge_websites"
    __table_args__ = (
        check_in("status", CrawlStatus, nullable=False),
        UniqueConstraint("organization_id", "url"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"),
                                                       index=True)
    company_profile_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("company_profiles.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, default=CrawlStatus.pending, server_default="pending")
    max_depth: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    max_pages: Mapped[int] = mapped_column(Integer, default=50, server_default="50")
    recrawl_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    pages_crawled: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_crawled_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class CompanyTrainingSession(IdMixin, Base):
    """A question put to the knowledge base (spokesperson training), the answer given and its sources."""

    __tablename__ = "company_training_sessions"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"),
                                                       index=True)
    company_profile_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("company_profiles.id", ondelete="CASCADE", name="fk_company_training_sessions_profile"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    sources: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    rating: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

"""Knowledge base API shapes (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from serving.core.schemas import ApiModel, InputModel
from serving.knowledge.models import SourceType


class KnowledgeSearchIn(InputModel):
    query: str = Field(min_length=1, max_length=2000)
    threshold: float = Field(0.5, ge=-1.0, le=1.0, description="minimum cosine similarity (1 = same meaning)")
    limit: int = Field(10, ge=1, le=100)
    company_profile_id: uuid.UUID | None = None


class KnowledgeMatch(ApiModel):
    id: uuid.UUID
    company_profile_id: uuid.UUID | None
    source_id: uuid.UUID | None
    title: str | None
    url: str | None
    content: str
    chunk_index: int
    similarity: float


class KnowledgeSearchOut(ApiModel):
    query: str
    matches: list[KnowledgeMatch]
    search_time: int = Field(description="milliseconds, embedding included")


class SourceIn(InputModel):
    title: str = Field(min_length=1, max_length=500)
    text: str = Field(min_length=1, description="the document's plain text; it is chunked and embedded")
    url: str | None = Field(None, max_length=2000)
    source_type: SourceType = SourceType.document
    company_profile_id: uuid.UUID | None = None
    published_at: datetime | None = None


class SourceOut(ApiModel):
    id: uuid.UUID
    company_profile_id: uuid.UUID | None
    source_type: str
    url: str | None
    title: str | None
    quality_score: int | None
    published_at: datetime | None
    fetched_at: datetime | None
    created_at: datetime
    chunks: int | None = None


class BuyingSignalOut(ApiModel):
    kind: str = Field(description="hiring, funding, expansion, leadership or technology")
    sentence: str
    url: str | None
    date: str | None
    confidence: float


class SourceResearchOut(SourceOut):
    signals: list[BuyingSignalOut] = Field(default_factory=list, description="buying signals new to the company")


class WebsiteIn(InputModel):
    url: str = Field(min_length=1, max_length=2000, description="the start page; its registrable domain is crawled")
    company_profile_id: uuid.UUID | None = None
    max_depth: int = Field(2, ge=0, le=5, description="links followed from the start page")
    max_pages: int = Field(50, ge=1, le=1000)
    recrawl_days: int = Field(7, ge=1, le=365)


class WebsiteOut(ApiModel):
    id: uuid.UUID
    company_profile_id: uuid.UUID | None
    url: str
    status: str
    max_depth: int
    max_pages: int
    recrawl_days: int
    pages_crawled: int
    last_crawled_at: datetime | None
    last_error: str | None
    created_at: datetime

"""Support knowledge base API shapes (camelCase on the wire)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from serving.core.schemas import ApiModel, InputModel
from serving.kb.models import ArticleStatus, Visibility

SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
MAX_BODY = 200_000  # characters of Markdown (a long manual page is about 50k)


class CategoryIn(InputModel):
    name: str = Field(min_length=1, max_length=200)
    slug: str | None = Field(None, min_length=1, max_length=200, pattern=SLUG,
                             description="made from the name when absent")
    description: str | None = Field(None, max_length=2000)
    parent_id: uuid.UUID | None = None
    position: int = Field(0, ge=0, le=100_000)


class CategoryPatch(InputModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    slug: str | None = Field(None, min_length=1, max_length=200, pattern=SLUG)
    description: str | None = Field(None, max_length=2000)
    parent_id: uuid.UUID | None = None
    position: int | None = Field(None, ge=0, le=100_000)


class CategoryOut(ApiModel):
    id: uuid.UUID
    parent_id: uuid.UUID | None
    name: str
    slug: str
    description: str | None
    position: int
    created_at: datetime
    updated_at: datetime


class CategoryNode(CategoryOut):
    children: list[CategoryNode] = []
    article_count: int = 0


class CategoryTree(ApiModel):
    data: list[CategoryNode]


class ArticleIn(InputModel):
    title: str = Field(min_length=1, max_length=300)
    body_markdown: str = Field(min_length=1, max_length=MAX_BODY)
    slug: str | None = Field(None, min_length=1, max_length=200, pattern=SLUG,
                             description="unique in the organization; made from the title when absent")
    category_id: uuid.UUID | None = None
    visibility: Visibility = Visibility.internal
    excerpt: str | None = Field(None, max_length=1000, description="made from the body when absent")
    meta_description: str | None = Field(None, max_length=320)


class ArticlePatch(InputModel):
    title: str | None = Field(None, min_length=1, max_length=300)
    body_markdown: str | None = Field(None, min_length=1, max_length=MAX_BODY)
    slug: str | None = Field(None, min_length=1, max_length=200, pattern=SLUG)
    category_id: uuid.UUID | None = None
    visibility: Visibility | None = None
    excerpt: str | None = Field(None, max_length=1000)
    meta_description: str | None = Field(None, max_length=320)


class ArticleSummary(ApiModel):
    id: uuid.UUID
    title: str
    slug: str
    excerpt: str | None
    meta_description: str | None
    category_id: uuid.UUID | None
    visibility: str
    status: str
    version: int
    published_at: datetime | None
    view_count: int
    helpful_count: int
    unhelpful_count: int
    updated_at: datetime


class ArticleOut(ArticleSummary):
    author_id: uuid.UUID | None
    body_markdown: str
    body_html: str = Field(description="rendered from the Markdown and sanitized: safe to insert as HTML")
    created_at: datetime


class PublicArticleSummary(ApiModel):
    title: str
    slug: str
    excerpt: str | None
    meta_description: str | None
    category_id: uuid.UUID | None
    published_at: datetime | None
    updated_at: datetime


class PublicArticle(PublicArticleSummary):
    body_html: str
    helpful_count: int
    unhelpful_count: int


class VersionOut(ApiModel):
    version: int
    title: str
    author_id: uuid.UUID | None
    restored_from: int | None
    created_at: datetime


class VersionDetail(VersionOut):
    body_markdown: str


class VersionDiff(ApiModel):
    from_version: int
    to_version: int
    title_changed: bool
    from_title: str
    to_title: str
    diff: str = Field(description="unified diff of the Markdown bodies (difflib)")


class VoteIn(InputModel):
    helpful: bool


class PublicVoteIn(VoteIn):
    visitor_id: str = Field(min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_-]+$",
                            description="a random id the visitor's browser keeps (one vote per visitor)")


class VoteOut(ApiModel):
    article_id: uuid.UUID
    helpful: bool
    helpful_count: int
    unhelpful_count: int


class RelatedArticle(ApiModel):
    id: uuid.UUID
    title: str
    slug: str
    excerpt: str | None
    similarity: float


class RelatedArticles(ApiModel):
    data: list[RelatedArticle] = Field(description="nearest first")


class ArticleStat(ApiModel):
    id: uuid.UUID
    title: str
    slug: str
    views: int
    helpful_count: int
    unhelpful_count: int
    helpfulness: float | None = Field(description="helpful ÷ all votes; null without votes")


class KbAnalytics(ApiModel):
    days: int
    articles: dict[str, int] = Field(description="articles per status")
    views: int = Field(description="views within the period")
    total_views: int
    helpful_votes: int
    unhelpful_votes: int
    helpfulness: float | None
    top_articles: list[ArticleStat] = Field(description="most viewed within the period")
    most_unhelpful: list[ArticleStat] = Field(description="most unhelpful votes: the articles to rewrite first")


ARTICLE_STATUSES = [s.value for s in ArticleStatus]

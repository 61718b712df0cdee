"""The support knowledge base (seed 4.3): hierarchical categories, articles written in Markdown (stored with their
sanitized HTML and an embedding for related articles), every saved version, helpfulness votes and views.

Distinct from the company knowledge base (`serving.knowledge`, research about companies): these are the
organization's own help articles, for its customers (public, portal) and its staff (internal).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pgvector.sqlalchemy import Vector
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from models.embeddings import DIMENSIONS
from serving.core.db import Base, IdMixin, TimestampMixin
from serving.core.enums import check_in


def _organization(table: str):
    # named by hand: the convention's name is longer than Postgres's 63 characters for some of these tables
    return mapped_column(ForeignKey("organizations.id", ondelete="CASCADE", name=f"fk_{table}_organization"),
                         index=True)


class Visibility(StrEnum):
    public = "public"  # anyone, through the public portal endpoints
    internal = "internal"  # the organization's own users only
    portal = "portal"  # signed-in customers (served to the organization's users until a customer portal exists)


class ArticleStatus(StrEnum):
    draft = "draft"
    published = "published"
    archived = "archived"


class ViewSource(StrEnum):
    app = "app"
    public = "public"


class KbCategory(IdMixin, TimestampMixin, Base):
    __tablename__ = "knowledge_base_categories"
    __table_args__ = (
        UniqueConstraint("organization_id", "slug"),
        CheckConstraint("parent_id is null or parent_id <> id", name="not_own_parent"),
    )

    organization_id: Mapped[uuid.UUID] = _organization("knowledge_base_categories")
    # deleting a category with subcategories is refused by the service; the database agrees
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("knowledge_base_categories.id", ondelete="RESTRICT", name="fk_knowledge_base_categories_parent"),
        index=True)
    name: Mapped[str] = mapped_column(Text)
    slug: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class KbArticle(IdMixin, TimestampMixin, Base):
    __tablename__ = "knowledge_base_articles"
    __table_args__ = (
        UniqueConstraint("organization_id", "slug"),
        check_in("visibility", Visibility, nullable=False),
        check_in("status", ArticleStatus, nullable=False),
        Index("ix_knowledge_base_articles_org_status", "organization_id", "status"),
        Index("ix_knowledge_base_articles_embedding", "embedding", postgresql_using="hnsw",
              postgresql_with={"m": 16, "ef_construction": 64}, postgresql_ops={"embedding": "vector_cosine_ops"}),
    )

    organization_id: Mapped[uuid.UUID] = _organization("knowledge_base_articles")
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("knowledge_base_categories.id", ondelete="SET NULL", name="fk_knowledge_base_articles_category"),
        index=True)
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(Text)
    slug: Mapped[str] = mapped_column(Text)
    body_markdown: Mapped[str] = mapped_column(Text)
    # rendered from body_markdown and sanitized at every save: what a browser may be given as is
    body_html: Mapped[str] = mapped_column(Text)
    excerpt: Mapped[str | None] = mapped_column(Text)
    meta_description: Mapped[str | None] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(Text, default=Visibility.internal, server_default="internal")
    status: Mapped[str] = mapped_column(Text, default=ArticleStatus.draft, server_default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    published_at: Mapped[datetime | None]
    view_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    helpful_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unhelpful_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    embedding: Mapped[list[float] | None] = mapped_column(Vector(DIMENSIONS))
    # the model that made the vector; vectors of different models are never compared
    embedding_model: Mapped[str | None] = mapped_column(Text)


class KbArticleVersion(IdMixin, Base):
    """An article's title and body as one save left them; restoring one saves it again as a new version."""

    __tablename__ = "knowledge_base_article_versions"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    organization_id: Mapped[uuid.UUID] = _organization("knowledge_base_article_versions")
    article_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("knowledge_base_articles.id", ondelete="CASCADE", name="fk_knowledge_base_article_versions_article"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    body_markdown: Mapped[str] = mapped_column(Text)
    author_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", name="fk_knowledge_base_article_versions_author"))
    # the version this one restored, if it is a restore
    restored_from: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class KbArticleVote(IdMixin, TimestampMixin, Base):
    """One voter's current opinion of an article: a user, or an anonymous portal visitor by the id its browser
    keeps. Voting again changes the vote, never adds one."""

    __tablename__ = "knowledge_base_article_votes"
    __table_args__ = (
        UniqueConstraint("article_id", "voter"),
        CheckConstraint("(user_id is not null) <> (visitor_id is not null)", name="one_voter"),
    )

    organization_id: Mapped[uuid.UUID] = _organization("knowledge_base_article_votes")
    article_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("knowledge_base_articles.id", ondelete="CASCADE", name="fk_knowledge_base_article_votes_article"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE", name="fk_knowledge_base_article_votes_user"))
    visitor_id: Mapped[str | None] = mapped_column(Text)
    # 'user:<id>' or 'visitor:<id>': one unique key for both kinds of voter
    voter: Mapped[str] = mapped_column(Text)
    helpful: Mapped[bool]


class KbArticleView(IdMixin, Base):
    """One read of an article (the analytics' raw material; the article keeps the running count)."""

    __tablename__ = "knowledge_base_article_views"
    __table_args__ = (
        check_in("source", ViewSource, nullable=False),
        Index("ix_knowledge_base_article_views_article_time", "article_id", "viewed_at"),
    )

    organization_id: Mapped[uuid.UUID] = _organization("knowledge_base_article_views")
    article_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("knowledge_base_articles.id", ondelete="CASCADE", name="fk_knowledge_base_article_views_article"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", name="fk_knowledge_base_article_views_user"))
    visitor_id: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    viewed_at: Mapped[datetime] = mapped_column(server_default=func.now())

"""The support knowledge base's logic: categories as a tree, articles saved as sanitized HTML with a version per
content change, restore and diff, helpfulness votes (one per voter, changeable), views, related articles by
embedding, analytics, and the public portal's reads.

Keyword-only functions that never commit: the request commits or rolls back once, so an article, its version and
its embedding are written together or not at all. Row-level security confines every query to the bound organization.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from models.embeddings import Embedder
from serving.core.clock import utcnow
from serving.core.db import set_tenant
from serving.core.errors import Conflict, NotFound, ValidationFailed
from serving.kb import rendering
from serving.kb.models import (
    ArticleStatus,
    KbArticle,
    KbArticleVersion,
    KbArticleView,
    KbArticleVote,
    KbCategory,
    ViewSource,
    Visibility,
)
from serving.knowledge.embedding import configured_embedder

EMBEDDED_CHARS = 4000  # the start of an article says what it is about; MiniLM reads 256 tokens anyway
TOP = 10


def slugify(value: str, fallback: str = "article") -> str:
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80].strip("-")
    return slug or fallback


# --- categories -----------------------------------------------------------------------------------------------------

def _category(db_session: Session, category_id: uuid.UUID, *, field: str = "categoryId") -> KbCategory:
    category = db_session.get(KbCategory, category_id)
    if category is None:
        raise ValidationFailed("no such category", details={"field": field, "value": str(category_id)})
    return category


def _free_category_slug(db_session: Session, slug: str, *, exclude: uuid.UUID | None = None) -> None:
    taken = db_session.scalar(select(KbCategory.id).where(KbCategory.slug == slug))
    if taken is not None and taken != exclude:
        raise Conflict(f"a category with the slug {slug!r} exists", details={"field": "slug", "value": slug})


def create_category(*, db_session: Session, organization_id: uuid.UUID, name: str, slug: str | None = None,
                    description: str | None = None, parent_id: uuid.UUID | None = None,
                    position: int = 0) -> KbCategory:
    if parent_id is not None:
        _category(db_session, parent_id, field="parentId")
    slug = slug or slugify(name, "category")
    _free_category_slug(db_session, slug)
    category = KbCategory(organization_id=organization_id, name=name, slug=slug, description=description,
                          parent_id=parent_id, position=position)
    db_session.add(category)
    db_session.flush()
    return category


def update_category(*, db_session: Session, category_id: uuid.UUID, changes: dict[str, Any]) -> KbCategory:
    category = db_session.get(KbCategory, category_id, with_for_update=True)
    if category is None:
        raise NotFound("category", category_id)
    if changes.get("parent_id") is not None:
        # walk up from the new parent: meeting the category itself would make a cycle
        ancestor: KbCategory | None = _category(db_session, changes["parent_id"], field="parentId")
        while ancestor is not None:
            if ancestor.id == category.id:
                raise ValidationFailed("a category cannot be moved under itself or one of its subcategories",
                                       details={"field": "parentId", "value": str(changes["parent_id"])})
            ancestor = db_session.get(KbCategory, ancestor.parent_id) if ancestor.parent_id else None
    if changes.get("slug"):
        _free_category_slug(db_session, changes["slug"], exclude=category.id)
    for key in ("name", "slug", "description", "parent_id", "position"):
        if key in changes and (changes[key] is not None or key in ("description", "parent_id")):
            setattr(category, key, changes[key])
    db_session.flush()
    return category


def delete_category(*, db_session: Session, category_id: uuid.UUID) -> None:
    """Its articles stay, uncategorized; a category with subcategories is refused (move or delete them first)."""
    category = db_session.get(KbCategory, category_id, with_for_update=True)
    if category is None:
        raise NotFound("category", category_id)
    children = db_session.scalar(select(func.count()).where(KbCategory.parent_id == category_id))
    if children:
        raise Conflict("the category has subcategories; move or delete them first",
                       details={"subcategories": children})
    db_session.delete(category)
    db_session.flush()


def category_tree(*, db_session: Session, published_only: bool) -> list[dict]:
    """Every category once, as nested nodes ordered by position then name, with its own articles' count."""
    counted = select(KbArticle.category_id, func.count()).group_by(KbArticle.category_id)
    if published_only:
        counted = counted.where(KbArticle.status == ArticleStatus.published)
    counts = dict(db_session.execute(counted).tuples().all())
    categories = db_session.scalars(select(KbCategory).order_by(KbCategory.position, KbCategory.name)).all()
    nodes = {c.id: {**{k: getattr(c, k) for k in ("id", "parent_id", "name", "slug", "description", "position",
                                                  "created_at", "updated_at")},
                    "children": [], "article_count": counts.get(c.id, 0)} for c in categories}
    roots = []
    for category in categories:
        parent = nodes.get(category.parent_id) if category.parent_id else None
        (parent["children"] if parent else roots).append(nodes[category.id])
    return roots


# --- articles -------------------------------------------------------------------------------------------------------

def _free_article_slug(db_session: Session, slug: str, *, exclude: uuid.UUID | None = None) -> None:
    taken = db_session.scalar(select(KbArticle.id).where(KbArticle.slug == slug))
    if taken is not None and taken != exclude:
        raise Conflict(f"an article with the slug {slug!r} exists", details={"field": "slug", "value": slug})


def _unique_article_slug(db_session: Session, base: str) -> str:
    taken = set(db_session.scalars(select(KbArticle.slug).where(
        (KbArticle.slug == base) | KbArticle.slug.like(f"{base}-%"))).all())
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


def _embed(article: KbArticle, embedder: Embedder | None) -> None:
    model = embedder or configured_embedder()  # the install's model (EMBEDDINGS_PROVIDER), as the company KB
    content = f"{article.title}. {rendering.plain_text(article.body_html)}"[:EMBEDDED_CHARS]
    [vector] = model.embed([content])
    article.embedding = vector.tolist()
    article.embedding_model = model.model


def _save_content(db_session: Session, article: KbArticle, *, title: str, body_markdown: str,
                  author_id: uuid.UUID | None, excerpt: str | None, restored_from: int | None = None,
                  embedder: Embedder | None = None) -> None:
    """A new version: the text rendered and sanitized again, re-embedded, and kept in the history."""
    old_html = article.body_html
    auto_excerpt = old_html is None or article.excerpt == rendering.excerpt(old_html)
    article.title = title
    article.body_markdown = body_markdown
    article.body_html = rendering.render(body_markdown)
    if excerpt is not None:
        article.excerpt = excerpt
    elif auto_excerpt:  # an excerpt written by hand is kept; one made from the body follows it
        article.excerpt = rendering.excerpt(article.body_html)
    article.version = (article.version or 0) + 1
    _embed(article, embedder)
    db_session.add(KbArticleVersion(organization_id=article.organization_id, article_id=article.id,
                                    version=article.version, title=title, body_markdown=body_markdown,
                                    author_id=author_id, restored_from=restored_from))


def create_article(*, db_session: Session, organization_id: uuid.UUID, author_id: uuid.UUID | None, title: str,
                   body_markdown: str, slug: str | None = None, category_id: uuid.UUID | None = None,
                   visibility: str = Visibility.internal, excerpt: str | None = None,
                   meta_description: str | None = None, embedder: Embedder | None = None) -> KbArticle:
    if category_id is not None:
        _category(db_session, category_id)
    if slug:
        _free_article_slug(db_session, slug)
    else:
        slug = _unique_article_slug(db_session, slugify(title))
    article = KbArticle(id=uuid.uuid4(), organization_id=organization_id, author_id=author_id, slug=slug,
                        category_id=category_id, visibility=visibility, status=ArticleStatus.draft,
                        meta_description=meta_description, version=0)
    _save_content(db_session, article, title=title, body_markdown=body_markdown, author_id=author_id,
                  excerpt=excerpt, embedder=embedder)
    db_session.add(article)
    db_session.flush()
    return article


def get_article(*, db_session: Session, article_id: uuid.UUID, published_only: bool = False,
                lock: bool = False) -> KbArticle:
    article = db_session.get(KbArticle, article_id, with_for_update=lock)
    if article is None or (published_only and article.status != ArticleStatus.published):
        raise NotFound("article", article_id)
    return article


def update_article(*, db_session: Session, article_id: uuid.UUID, author_id: uuid.UUID | None,
                   changes: dict[str, Any], embedder: Embedder | None = None) -> KbArticle:
    """Apply a partial update; a changed title or body is a new version, other fields are not."""
    article = get_article(db_session=db_session, article_id=article_id, lock=True)
    if changes.get("category_id") is not None:
        _category(db_session, changes["category_id"])
    if changes.get("slug"):
        _free_article_slug(db_session, changes["slug"], exclude=article.id)
    for key in ("slug", "category_id", "visibility", "meta_description"):
        if key in changes and (changes[key] is not None or key in ("category_id", "meta_description")):
            setattr(article, key, changes[key])
    title = changes.get("title") or article.title
    body = changes.get("body_markdown") or article.body_markdown
    if (title, body) != (article.title, article.body_markdown):
        _save_content(db_session, article, title=title, body_markdown=body, author_id=author_id,
                      excerpt=changes.get("excerpt"), embedder=embedder)
    elif "excerpt" in changes:
        article.excerpt = changes["excerpt"] or rendering.excerpt(article.body_html)
    db_session.flush()
    return article


def set_status(*, db_session: Session, article_id: uuid.UUID, status: ArticleStatus) -> KbArticle:
    article = get_article(db_session=db_session, article_id=article_id, lock=True)
    article.status = status
    if status == ArticleStatus.published and article.published_at is None:
        article.published_at = utcnow()
    db_session.flush()
    return article


def delete_article(*, db_session: Session, article_id: uuid.UUID) -> None:
    article = get_article(db_session=db_session, article_id=article_id, lock=True)
    db_session.delete(article)
    db_session.flush()


def articles(*, published_only: bool, status: str | None = None, visibility: str | None = None,
             category_id: uuid.UUID | None = None) -> Select:
    statement = select(KbArticle).order_by(KbArticle.updated_at.desc(), KbArticle.id)
    if published_only:
        statement = statement.where(KbArticle.status == ArticleStatus.published)
    if status:
        statement = statement.where(KbArticle.status == status)
    if visibility:
        statement = statement.where(KbArticle.visibility == visibility)
    if category_id:
        statement = statement.where(KbArticle.category_id == category_id)
    return statement


def article_by_slug(*, db_session: Session, slug: str, published_only: bool) -> KbArticle:
    article = db_session.scalar(select(KbArticle).where(KbArticle.slug == slug))
    if article is None or (published_only and article.status != ArticleStatus.published):
        raise NotFound("article", slug)
    return article


# --- versions -------------------------------------------------------------------------------------------------------

def versions(*, article_id: uuid.UUID) -> Select:
    return (select(KbArticleVersion).where(KbArticleVersion.article_id == article_id)
            .order_by(KbArticleVersion.version.desc()))


def version(*, db_session: Session, article_id: uuid.UUID, number: int) -> KbArticleVersion:
    found = db_session.scalar(select(KbArticleVersion).where(KbArticleVersion.article_id == article_id,
                                                             KbArticleVersion.version == number))
    if found is None:
        raise NotFound("article version", f"{article_id}@{number}")
    return found


def diff(*, db_session: Session, article_id: uuid.UUID, from_version: int, to_version: int) -> dict:
    old = version(db_session=db_session, article_id=article_id, number=from_version)
    new = version(db_session=db_session, article_id=article_id, number=to_version)
    lines = difflib.unified_diff(old.body_markdown.splitlines(keepends=True),
                                 new.body_markdown.splitlines(keepends=True),
                                 fromfile=f"v{from_version}", tofile=f"v{to_version}")
    return {"from_version": from_version, "to_version": to_version, "title_changed": old.title != new.title,
            "from_title": old.title, "to_title": new.title,
            "diff": "".join(line if line.endswith("\n") else line + "\n" for line in lines)}


def restore(*, db_session: Session, article_id: uuid.UUID, number: int, author_id: uuid.UUID | None,
            embedder: Embedder | None = None) -> KbArticle:
    """Bring an old version back as the newest one: history is never rewritten."""
    article = get_article(db_session=db_session, article_id=article_id, lock=True)
    old = version(db_session=db_session, article_id=article_id, number=number)
    _save_content(db_session, article, title=old.title, body_markdown=old.body_markdown, author_id=author_id,
                  excerpt=None, restored_from=number, embedder=embedder)
    db_session.flush()
    return article


# --- votes and views ------------------------------------------------------------------------------------------------

def vote(*, db_session: Session, article: KbArticle, helpful: bool, user_id: uuid.UUID | None = None,
         visitor_id: str | None = None) -> KbArticle:
    """One vote per voter: voting again replaces it. The article row is locked first, so concurrent votes are
    counted one after the other and the counts always equal the votes."""
    if (user_id is None) == (visitor_id is None):
        raise ValueError("a vote has exactly one voter: a user or a visitor")
    db_session.execute(select(KbArticle.id).where(KbArticle.id == article.id).with_for_update())
    voter = f"user:{user_id}" if user_id else f"visitor:{visitor_id}"
    db_session.execute(insert(KbArticleVote).values(
        id=uuid.uuid4(), organization_id=article.organization_id, article_id=article.id, user_id=user_id,
        visitor_id=visitor_id, voter=voter, helpful=helpful,
    ).on_conflict_do_update(constraint="uq_knowledge_base_article_votes_article_id_voter",
                            set_={"helpful": helpful, "updated_at": func.now()}))
    votes = select(func.count()).where(KbArticleVote.article_id == article.id)
    db_session.execute(update(KbArticle).where(KbArticle.id == article.id).values(
        helpful_count=votes.where(KbArticleVote.helpful.is_(True)).scalar_subquery(),
        unhelpful_count=votes.where(KbArticleVote.helpful.is_(False)).scalar_subquery(),
        updated_at=KbArticle.updated_at))  # feedback is not an edit: "last updated" stays the author's
    db_session.refresh(article)
    return article


def record_view(*, db_session: Session, article: KbArticle, source: ViewSource, user_id: uuid.UUID | None = None,
                visitor_id: str | None = None) -> None:
    db_session.add(KbArticleView(organization_id=article.organization_id, article_id=article.id, user_id=user_id,
                                 visitor_id=visitor_id, source=source))
    db_session.execute(update(KbArticle).where(KbArticle.id == article.id)
                       .values(view_count=KbArticle.view_count + 1, updated_at=KbArticle.updated_at))
    db_session.flush()
    db_session.refresh(article)


# --- related articles and analytics -----------------------------------------------------------------------------------

def related(*, db_session: Session, article_id: uuid.UUID, limit: int = 5, ef_search: int = 100) -> list[dict]:
    """The published articles nearest in meaning to this one (cosine similarity of their embeddings, same model),
    in the caller's organization (row-level security, and said again for the index's sake)."""
    article = get_article(db_session=db_session, article_id=article_id)
    if article.embedding is None:
        return []
    # HNSW returns at most ef_search candidates before the filters: keep it well above the limit
    db_session.execute(text(f"set local hnsw.ef_search = {max(int(ef_search), 4 * int(limit))}"))
    distance = KbArticle.embedding.cosine_distance(article.embedding)
    rows = db_session.execute(
        select(KbArticle.id, KbArticle.title, KbArticle.slug, KbArticle.excerpt, (1 - distance).label("similarity"))
        .where(KbArticle.organization_id == article.organization_id, KbArticle.id != article.id,
               KbArticle.status == ArticleStatus.published, KbArticle.embedding_model == article.embedding_model,
               KbArticle.embedding.is_not(None))
        .order_by(distance).limit(limit)).mappings().all()
    return [{**row, "similarity": round(float(row["similarity"]), 4)} for row in rows]


def _ratio(helpful: int, unhelpful: int) -> float | None:
    return round(helpful / (helpful + unhelpful), 4) if helpful + unhelpful else None


def _stat(row) -> dict:
    return {"id": row.id, "title": row.title, "slug": row.slug, "views": row.views,
            "helpful_count": row.helpful_count, "unhelpful_count": row.unhelpful_count,
            "helpfulness": _ratio(row.helpful_count, row.unhelpful_count)}


def analytics(*, db_session: Session, days: int = 30) -> dict:
    since = utcnow() - timedelta(days=days)
    by_status = dict(db_session.execute(select(KbArticle.status, func.count()).group_by(KbArticle.status))
                     .tuples().all())
    totals = db_session.execute(select(func.coalesce(func.sum(KbArticle.view_count), 0).label("views"),
                                       func.coalesce(func.sum(KbArticle.helpful_count), 0).label("helpful"),
                                       func.coalesce(func.sum(KbArticle.unhelpful_count), 0).label("unhelpful"))
                                ).one()
    recent = (select(KbArticleView.article_id, func.count().label("views"))
              .where(KbArticleView.viewed_at >= since).group_by(KbArticleView.article_id).subquery())
    top = db_session.execute(
        select(KbArticle.id, KbArticle.title, KbArticle.slug, recent.c.views, KbArticle.helpful_count,
               KbArticle.unhelpful_count)
        .join(recent, recent.c.article_id == KbArticle.id)
        .order_by(recent.c.views.desc(), KbArticle.title).limit(TOP)).all()
    unhelpful = db_session.execute(
        select(KbArticle.id, KbArticle.title, KbArticle.slug, KbArticle.view_count.label("views"),
               KbArticle.helpful_count, KbArticle.unhelpful_count)
        .where(KbArticle.unhelpful_count > 0)
        .order_by(KbArticle.unhelpful_count.desc(), KbArticle.helpful_count, KbArticle.title).limit(TOP)).all()
    return {"days": days, "articles": {s.value: by_status.get(s.value, 0) for s in ArticleStatus},
            "views": int(db_session.scalar(select(func.count()).where(KbArticleView.viewed_at >= since)) or 0),
            "total_views": int(totals.views), "helpful_votes": int(totals.helpful),
            "unhelpful_votes": int(totals.unhelpful), "helpfulness": _ratio(int(totals.helpful), int(totals.unhelpful)),
            "top_articles": [_stat(r) for r in top], "most_unhelpful": [_stat(r) for r in unhelpful]}


# --- the public portal ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PublicScope:
    organization_id: uuid.UUID


def bind_public_organization(*, db_session: Session, reference: str) -> PublicScope:
    """Bind the transaction to the organization a portal URL names (slug or id). Only an organization that
    publishes public articles is found; any other reference is a 404 like an unknown one."""
    organization_id = db_session.scalar(text("select app.kb_public_organization(:ref)"), {"ref": reference[:200]})
    if organization_id is None:
        raise NotFound("knowledge base", reference)
    set_tenant(db_session, organization_id)
    return PublicScope(organization_id)


def _public() -> Select:
    return select(KbArticle).where(KbArticle.status == ArticleStatus.published,
                                   KbArticle.visibility == Visibility.public)


def public_articles(*, category_id: uuid.UUID | None = None) -> Select:
    statement = _public().order_by(KbArticle.published_at.desc(), KbArticle.id)
    return statement.where(KbArticle.category_id == category_id) if category_id else statement


def public_article(*, db_session: Session, slug: str) -> KbArticle:
    article = db_session.scalar(_public().where(KbArticle.slug == slug))
    if article is None:
        raise NotFound("article", slug)
    return article

"""/kb: the support knowledge base — categories, articles and their versions, votes, related articles, analytics,
and the public portal's unauthenticated reads (`/kb/public/{organization}/…`).

Roles: readers (`knowledge:read`, every role) read published articles and vote; writers (`knowledge:write`: users
and admins) also see drafts and archived articles and create, edit, publish, archive and restore; only admins
delete articles and categories (a deletion loses the history, an archive does not).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query

from serving.core.deps import DbSession, require
from serving.core.errors import Forbidden
from serving.core.pagination import Page, Pagination, page_of, paginate
from serving.core.permissions import Scope
from serving.core.principal import Principal
from serving.kb import service
from serving.kb.models import ArticleStatus, ViewSource, Visibility
from serving.kb.schemas import (
    ArticleIn,
    ArticleOut,
    ArticlePatch,
    ArticleSummary,
    CategoryIn,
    CategoryOut,
    CategoryPatch,
    CategoryTree,
    KbAnalytics,
    PublicArticle,
    PublicArticleSummary,
    PublicVoteIn,
    RelatedArticles,
    VersionDetail,
    VersionDiff,
    VersionOut,
    VoteIn,
    VoteOut,
)

router = APIRouter()
MAX_VERSION = 1_000_000

Reader = Annotated[Principal, require(Scope.knowledge_read)]
Writer = Annotated[Principal, require(Scope.knowledge_write)]
VisitorId = Annotated[str | None, Query(alias="visitorId", min_length=8, max_length=100,
                                        pattern=r"^[A-Za-z0-9_-]+$")]
VersionNumber = Annotated[int, Path(ge=1, le=MAX_VERSION)]
OrganizationRef = Annotated[str, Path(min_length=1, max_length=200,
                                      description="the organization's slug or id")]


def _published_only(principal: Principal) -> bool:
    """Drafts and archived articles are the writers' business."""
    return not principal.can(Scope.knowledge_write)


def _admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only admins can delete from the knowledge base", code="INSUFFICIENT_ROLE",
                        details={"requiredRole": "admin", "role": principal.role})


# --- categories


@router.get("/categories", response_model=CategoryTree, summary="The category tree, with article counts")
def category_tree(db: DbSession, principal: Reader):
    return {"data": service.category_tree(db_session=db, published_only=_published_only(principal))}


@router.post("/categories", response_model=CategoryOut, status_code=201, summary="Create a category")
def create_category(body: CategoryIn, db: DbSession, principal: Writer):
    return service.create_category(db_session=db, organization_id=principal.organization_id, name=body.name,
                                   slug=body.slug, description=body.description, parent_id=body.parent_id,
                                   position=body.position)


@router.patch("/categories/{category_id}", response_model=CategoryOut,
              summary="Rename, move (parentId, null for the top level) or reorder a category")
def update_category(category_id: uuid.UUID, body: CategoryPatch, db: DbSession, principal: Writer):
    return service.update_category(db_session=db, category_id=category_id, changes=body.model_dump(exclude_unset=True))


@router.delete("/categories/{category_id}", status_code=204,
               summary="Delete a category without subcategories (admins; its articles become uncategorized)")
def delete_category(category_id: uuid.UUID, db: DbSession, principal: Writer) -> None:
    _admin(principal)
    service.delete_category(db_session=db, category_id=category_id)


# --- articles


@router.get("/articles", response_model=Page[ArticleSummary], summary="Articles, last updated first")
def list_articles(db: DbSession, principal: Reader, pagination: Pagination, status: ArticleStatus | None = None,
                  visibility: Visibility | None = None,
                  category_id: Annotated[uuid.UUID | None, Query(alias="categoryId")] = None):
    statement = service.articles(published_only=_published_only(principal), status=status, visibility=visibility,
                                 category_id=category_id)
    items, meta = paginate(db, statement, pagination)
    return page_of([ArticleSummary.model_validate(a) for a in items], meta)


@router.post("/articles", response_model=ArticleOut, status_code=201,
             summary="Write an article (a draft; Markdown rendered to sanitized HTML; version 1)")
def create_article(body: ArticleIn, db: DbSession, principal: Writer):
    return service.create_article(db_session=db, organization_id=principal.organization_id,
                                  author_id=principal.user_id, title=body.title, body_markdown=body.body_markdown,
                                  slug=body.slug, category_id=body.category_id, visibility=body.visibility,
                                  excerpt=body.excerpt, meta_description=body.meta_description)


@router.get("/articles/by-slug/{slug}", response_model=ArticleOut, summary="An article by its slug (counts a view)")
def article_by_slug(slug: Annotated[str, Path(max_length=200)], db: DbSession, principal: Reader):
    article = service.article_by_slug(db_session=db, slug=slug, published_only=_published_only(principal))
    service.record_view(db_session=db, article=article, source=ViewSource.app, user_id=principal.user_id)
    return article


@router.get("/articles/{article_id}", response_model=ArticleOut, summary="An article (counts a view)")
def get_article(article_id: uuid.UUID, db: DbSession, principal: Reader):
    article = service.get_article(db_session=db, article_id=article_id, published_only=_published_only(principal))
    service.record_view(db_session=db, article=article, source=ViewSource.app, user_id=principal.user_id)
    return article


@router.patch("/articles/{article_id}", response_model=ArticleOut,
              summary="Edit an article (a new title or body is a new version)")
def update_article(article_id: uuid.UUID, body: ArticlePatch, db: DbSession, principal: Writer):
    return service.update_article(db_session=db, article_id=article_id, author_id=principal.user_id,
                                  changes=body.model_dump(exclude_unset=True))


@router.delete("/articles/{article_id}", status_code=204, summary="Delete an article and its history (admins)")
def delete_article(article_id: uuid.UUID, db: DbSession, principal: Writer) -> None:
    _admin(principal)
    service.delete_article(db_session=db, article_id=article_id)


@router.post("/articles/{article_id}/publish", response_model=ArticleOut, summary="Publish an article")
def publish_article(article_id: uuid.UUID, db: DbSession, principal: Writer):
    return service.set_status(db_session=db, article_id=article_id, status=ArticleStatus.published)


@router.post("/articles/{article_id}/archive", response_model=ArticleOut,
             summary="Archive an article (hidden from readers and the portal; kept with its history)")
def archive_article(article_id: uuid.UUID, db: DbSession, principal: Writer):
    return service.set_status(db_session=db, article_id=article_id, status=ArticleStatus.archived)


# --- versions


@router.get("/articles/{article_id}/versions", response_model=Page[VersionOut], summary="Versions, newest first")
def list_versions(article_id: uuid.UUID, db: DbSession, principal: Reader, pagination: Pagination):
    service.get_article(db_session=db, article_id=article_id, published_only=_published_only(principal))
    items, meta = paginate(db, service.versions(article_id=article_id), pagination)
    return page_of([VersionOut.model_validate(v) for v in items], meta)


@router.get("/articles/{article_id}/versions/{number}", response_model=VersionDetail, summary="One version")
def get_version(article_id: uuid.UUID, number: VersionNumber, db: DbSession, principal: Reader):
    service.get_article(db_session=db, article_id=article_id, published_only=_published_only(principal))
    return service.version(db_session=db, article_id=article_id, number=number)


@router.get("/articles/{article_id}/diff", response_model=VersionDiff,
            summary="What changed between two versions (unified diff of the Markdown)")
def diff_versions(article_id: uuid.UUID, db: DbSession, principal: Reader,
                  from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_VERSION)],
                  to_version: Annotated[int, Query(alias="to", ge=1, le=MAX_VERSION)]):
    service.get_article(db_session=db, article_id=article_id, published_only=_published_only(principal))
    return service.diff(db_session=db, article_id=article_id, from_version=from_version, to_version=to_version)


@router.post("/articles/{article_id}/versions/{number}/restore", response_model=ArticleOut,
             summary="Restore a version (saved again as the newest version)")
def restore_version(article_id: uuid.UUID, number: VersionNumber, db: DbSession, principal: Writer):
    return service.restore(db_session=db, article_id=article_id, number=number, author_id=principal.user_id)


# --- feedback, related, analytics


@router.post("/articles/{article_id}/vote", response_model=VoteOut,
             summary="Helpful or not (one vote per user; voting again changes it)")
def vote(article_id: uuid.UUID, body: VoteIn, db: DbSession, principal: Reader):
    article = service.get_article(db_session=db, article_id=article_id, published_only=_published_only(principal))
    article = service.vote(db_session=db, article=article, helpful=body.helpful, user_id=principal.user_id)
    return {"article_id": article.id, "helpful": body.helpful, "helpful_count": article.helpful_count,
            "unhelpful_count": article.unhelpful_count}


@router.get("/articles/{article_id}/related", response_model=RelatedArticles,
            summary="Published articles nearest in meaning (embeddings)")
def related_articles(article_id: uuid.UUID, db: DbSession, principal: Reader,
                     limit: Annotated[int, Query(ge=1, le=20)] = 5):
    service.get_article(db_session=db, article_id=article_id, published_only=_published_only(principal))
    return {"data": service.related(db_session=db, article_id=article_id, limit=limit)}


@router.get("/analytics", response_model=KbAnalytics,
            summary="Views, helpfulness, the most read articles and those voted least helpful")
def analytics(db: DbSession, principal: Reader, days: Annotated[int, Query(ge=1, le=366)] = 30):
    return service.analytics(db_session=db, days=days)


# --- the public portal: no authentication; public and published articles only


@router.get("/public/{organization}/articles", response_model=Page[PublicArticleSummary],
            summary="An organization's public articles (no authentication)")
def public_articles(organization: OrganizationRef, db: DbSession, pagination: Pagination,
                    category_id: Annotated[uuid.UUID | None, Query(alias="categoryId")] = None):
    service.bind_public_organization(db_session=db, reference=organization)
    items, meta = paginate(db, service.public_articles(category_id=category_id), pagination)
    return page_of([PublicArticleSummary.model_validate(a) for a in items], meta)


@router.get("/public/{organization}/articles/{slug}", response_model=PublicArticle,
            summary="One public article (no authentication; counts a view)")
def public_article(organization: OrganizationRef, slug: Annotated[str, Path(max_length=200)], db: DbSession,
                   visitor_id: VisitorId = None):
    service.bind_public_organization(db_session=db, reference=organization)
    article = service.public_article(db_session=db, slug=slug)
    service.record_view(db_session=db, article=article, source=ViewSource.public, visitor_id=visitor_id)
    return article


@router.post("/public/{organization}/articles/{slug}/vote", response_model=VoteOut,
             summary="A visitor's vote on a public article (one per visitor id; voting again changes it)")
def public_vote(organization: OrganizationRef, slug: Annotated[str, Path(max_length=200)], body: PublicVoteIn,
                db: DbSession):
    service.bind_public_organization(db_session=db, reference=organization)
    article = service.public_article(db_session=db, slug=slug)
    article = service.vote(db_session=db, article=article, helpful=body.helpful, visitor_id=body.visitor_id)
    return {"article_id": article.id, "helpful": body.helpful, "helpful_count": article.helpful_count,
            "unhelpful_count": article.unhelpful_count}

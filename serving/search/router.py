"""/search: universal search, suggestions, saved searches, clicks and analytics (seed 4.1, 7.4).

Every route needs `search:read`; each type searched also needs its own read scope (an API key with
`search:read` and `prospects:read` searches prospects only). The seed's search rate limit (100/minute per user or
key) applies to every /search route (`serving.core.ratelimit`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from serving.core import fast_read
from serving.core.db import tenant_session
from serving.core.deps import DbSession, require
from serving.core.errors import ValidationFailed
from serving.core.pagination import Page, Pagination, page_of, paginate
from serving.core.permissions import Scope
from serving.core.principal import Principal
from serving.search import search_log, service
from serving.search.engine import SearchIndex
from serving.search.schemas import (
    ClickIn,
    SavedSearchIn,
    SavedSearchOut,
    SearchAnalyticsOut,
    SearchResponse,
    Suggestions,
)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    # at stop: the searches' analytics still in memory are written, and the kept-alive Typesense pool closed
    try:
        await run_in_threadpool(search_log.log_for(app.state.settings).flush)
    except Exception as exc:  # the database left first: nothing else to do with them
        logger.warning("search analytics lost at shutdown: %s", exc)
    index = getattr(app.state, "search_index", None)
    if index is not None:
        await index.aclose()


router = APIRouter(lifespan=_lifespan)

logger = logging.getLogger(__name__)
Searcher = Annotated[Principal, require(Scope.search_read)]
_lock = threading.Lock()


def _search_index(request: Request) -> SearchIndex:
    """The app's Typesense client, its collections and search key made sure of once per process (a 503
    SEARCH_UNAVAILABLE when Typesense is not configured or does not answer)."""
    index = getattr(request.app.state, "search_index", None)
    if index is not None:
        return index
    with _lock:
        index = getattr(request.app.state, "search_index", None)
        if index is None:
            index = SearchIndex.from_settings(request.app.state.settings)
            index.ensure()
            request.app.state.search_index = index
    return index


Index = Annotated[SearchIndex, Depends(_search_index)]


def _log(request: Request) -> search_log.SearchLog:
    """The process's search log, kept on the app (finding it derives the database URL: 2 % of a search's CPU)."""
    log = getattr(request.app.state, "search_log", None)
    if log is None:
        log = request.app.state.search_log = search_log.log_for(request.app.state.settings)
    return log


def _types(types: str | None) -> list[str] | None:
    return [t.strip() for t in types.split(",") if t.strip()] if types else None


@router.get("", response_model=SearchResponse, response_model_exclude_none=True,
            summary="Search prospects, accounts, deals and e-mails at once")
async def search(request: Request,
                 q: Annotated[str, Query(max_length=500, description="what to look for; an e-mail or domain jumps "
                                                                     "to its record; phrases such as 'deals closing "
                                                                     "this month' become filters")] = "",
                 types: Annotated[str | None, Query(description="comma-separated: prospects,accounts,deals,emails")
                                  ] = None,
                 filters: Annotated[str | None, Query(max_length=4000, description=(
                     'a JSON object, e.g. {"status": ["new"], "createdAt": {"gte": "2026-01-01"}}, or '
                     "field:value|value,field:value"))] = None,
                 facets: Annotated[str | None, Query(max_length=1000, description=(
                     "facet counts to return, none by default: comma-separated facet names (status,ownerId,…), "
                     "each counted on the types that have it, or * for every facet of each type"))] = None,
                 page: Annotated[int, Query(ge=1, le=100)] = 1,
                 per_page: Annotated[int, Query(alias="perPage", ge=1, le=service.MAX_PER_PAGE)] = 10) -> Response:
    # The busiest route, on the event loop (profiled: the thread-pool hop, the ORM, the sync Typesense client and a
    # commit per search were most of its cost): authentication, the tenant binding, the organization's search
    # tenant and industries in one database round trip (serving/core/fast_read.py); the multi-search over a
    # kept-alive async pool with a cached scoped key; the analytics row kept in memory and written in batches
    # (search_log.py); the response validated and serialized once.
    started = time.perf_counter()
    principal, row = await fast_read.read_row(
        request, scope=Scope.search_read,
        sql=service.INDUSTRIES_SQL if service.needs_industries(q) else service.TENANT_SQL, params=())
    index = request.app.state.search_index if getattr(request.app.state, "search_index", None) is not None \
        else await run_in_threadpool(_search_index, request)

    async def semantic(planned: service.SearchPlan, response: dict) -> None:
        def run() -> None:
            with tenant_session(request.app.state.session_factory, principal.organization_id) as session:
                service.add_semantic(db_session=session, planned=planned, response=response)
        await run_in_threadpool(run)

    response, record = await service.search_async(
        index=index, principal=principal, query=q, types=_types(types), filters=filters, page=page,
        per_page=per_page, industries=list(row["industries"]) if row else [],
        tenant=service.tenant_of(row["tenant"] if row else None), facets=facets, started=started, semantic=semantic)
    _log(request).add(record)
    body = SearchResponse.model_validate(response).model_dump_json(by_alias=True, exclude_none=True)
    return Response(body, media_type="application/json")


def _logged_searches(request: Request) -> None:
    """This process's searches still in memory are written first, so that a click on one, the analytics and the
    popular queries see them."""
    _log(request).flush()


Logged = [Depends(_logged_searches)]


@router.get("/suggestions", response_model=Suggestions, response_model_exclude_none=True, dependencies=Logged,
            summary="Autocomplete from record names and the organization's popular queries")
def suggestions(db: DbSession, principal: Searcher, index: Index,
                q: Annotated[str, Query(max_length=200)] = "",
                limit: Annotated[int, Query(ge=1, le=20)] = 8):
    found = service.suggestions(db_session=db, index=index, principal=principal, query=q, limit=limit)
    return {"query": q, "suggestions": found}


@router.post("/saved", response_model=SavedSearchOut, status_code=201, summary="Save a search for later")
def save_search(body: SavedSearchIn, db: DbSession, principal: Searcher):
    return service.save(db_session=db, principal=principal, name=body.name, query=body.query, types=body.types,
                        filters=body.filters)


@router.get("/saved", response_model=Page[SavedSearchOut], summary="My saved searches, newest first")
def list_saved(db: DbSession, principal: Searcher, pagination: Pagination):
    items, meta = paginate(db, service.saved_of(principal=principal), pagination)
    return page_of([SavedSearchOut.model_validate(s) for s in items], meta)


@router.delete("/saved/{saved_id}", status_code=204, summary="Delete one of my saved searches")
def delete_saved(saved_id: uuid.UUID, db: DbSession, principal: Searcher) -> None:
    service.delete_saved(db_session=db, principal=principal, saved_id=saved_id)


@router.post("/clicks", status_code=204, dependencies=Logged,
             summary="Record that a result of a search was opened, with its rank")
def record_click(body: ClickIn, db: DbSession, principal: Searcher) -> None:
    service.record_click(db_session=db, principal=principal, search_id=body.search_id, entity=body.type,
                         record_id=body.id, rank=body.rank)


@router.get("/analytics", response_model=SearchAnalyticsOut, dependencies=Logged,
            summary="Top and zero-result searches, search time, click-through by position, refinements")
def search_analytics(db: DbSession, principal: Searcher,
                     since: datetime | None = None, until: datetime | None = None,
                     limit: Annotated[int, Query(ge=1, le=100)] = 10):
    until = until or datetime.now(UTC)
    since = since or until - timedelta(days=30)
    if since >= until:
        raise ValidationFailed("since must be before until", details={"field": "since", "value": str(since)})
    return service.analytics(db_session=db, since=since, until=until, limit=limit)

"""Universal search: one multi-search over the types the principal may read, with a key scoped to their
organization; suggestions; saved searches; clicks and analytics.

Filters from the request are parsed against each type's declared facets, dates and numbers and rebuilt as
Typesense clauses from those field names and quoted values; no part of the request is passed through as filter
syntax. Tenancy does not rest on that, though: the scoped key pins the organization whatever the filter says.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic.alias_generators import to_snake
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from serving.core.clock import utcnow
from serving.core.errors import Forbidden, NotFound, ValidationFailed
from serving.core.permissions import Role
from serving.core.principal import Principal
from serving.knowledge import service as knowledge
from serving.search.collections import ENTITIES, Entity
from serving.search.engine import SearchIndex, SearchUnavailable
from serving.search.intent import Understanding, understand
from serving.search.models import SavedSearch, SearchAnalytics, SearchClick, SearchPopularQuery

MAX_PER_PAGE = 50
SUGGESTION_TYPES = ("prospects", "accounts", "deals")


def normalize(query: str) -> str:
    return " ".join(query.lower().split())


# -- which types, which filters -------------------------------------------------------------------------------

def allowed_types(principal: Principal, requested: list[str] | None) -> list[str]:
    """The types to search: those requested (default: all) that the principal may read."""
    unknown = sorted(set(requested or []) - set(ENTITIES))
    if unknown:
        raise ValidationFailed(f"unknown search types {unknown}; searchable types are {sorted(ENTITIES)}",
                               details={"field": "types", "value": unknown, "allowed": sorted(ENTITIES)})
    names = list(dict.fromkeys(requested or ENTITIES))
    readable = [name for name in names if principal.can(ENTITIES[name].scope)]
    if requested and len(readable) < len(names):
        missing = sorted({ENTITIES[n].scope for n in names if n not in readable})
        raise Forbidden(f"searching {', '.join(n for n in names if n not in readable)} needs {', '.join(missing)}",
                        code="INSUFFICIENT_SCOPE", details={"requiredScopes": missing})
    return readable


def parse_filters(raw: str | dict | None) -> dict[str, Any]:
    """`filters` as a JSON object, or `field:value|value,field:value`; field names camelCase or snake_case."""
    if raw is None or raw == "" or raw == {}:
        return {}
    if isinstance(raw, dict):
        parsed = raw
    elif raw.lstrip().startswith("{"):
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValidationFailed(f"filters is not valid JSON: {exc.msg}",
                                   details={"field": "filters", "value": raw}) from exc
        if not isinstance(parsed, dict):
            raise ValidationFailed("filters must be a JSON object", details={"field": "filters", "value": raw})
    else:
        parsed = {}
        for part in filter(None, (p.strip() for p in raw.split(","))):
            name, sep, values = part.partition(":")
            if not sep or not name.strip() or not values.strip():
                raise ValidationFailed(f"cannot read filter {part!r}: write field:value or field:value1|value2",
                                       details={"field": "filters", "value": raw})
            parsed[name.strip()] = [v.strip() for v in values.split("|") if v.strip()]
    return {to_snake(name): value for name, value in parsed.items()}


def _quote(value: Any) -> str:
    return "`" + str(value).replace("`", "") + "`"


def _as_epoch(name: str, value: Any) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ValidationFailed(f"filter {name!r}: {value!r} is not an ISO date or date-time",
                               details={"field": f"filters.{name}", "value": value}) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # a date without a zone is read as UTC, like the stored dates
    return int(moment.timestamp())


RANGE_OPS = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<"}


def filter_clauses(entity: Entity, filters: dict[str, Any]) -> list[str] | None:
    """Typesense clauses for one entity, or None when the entity lacks a filtered field (it is not searched)."""
    clauses = []
    for name, value in filters.items():
        if name in entity.date_fields or name in entity.numeric_fields:
            if not isinstance(value, dict) or not value or set(value) - set(RANGE_OPS):
                raise ValidationFailed(
                    f"filter {name!r} takes a range such as {{\"gte\": …, \"lt\": …}}",
                    details={"field": f"filters.{name}", "value": value, "operators": sorted(RANGE_OPS)})
            for op, bound in value.items():
                if name in entity.date_fields:
                    number = _as_epoch(name, bound)
                else:
                    try:
                        number = float(bound)
                    except (TypeError, ValueError) as exc:
                        raise ValidationFailed(f"filter {name!r}: {bound!r} is not a number",
                                               details={"field": f"filters.{name}", "value": bound}) from exc
                clauses.append(f"{name}:{RANGE_OPS[op]}{number}")
        elif name in entity.facets:
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, (str, int, bool)) and str(v) for v in values):
                raise ValidationFailed(f"filter {name!r} takes a value or a list of values",
                                       details={"field": f"filters.{name}", "value": value})
            rendered = [str(v).lower() if isinstance(v, bool) else _quote(v) for v in values]
            clauses.append(f"{name}:=[{', '.join(rendered)}]")
        else:
            return None
    return clauses


def check_filter_names(types: list[str], filters: dict[str, Any]) -> None:
    known = {f for name in types for f in (*ENTITIES[name].facets, *ENTITIES[name].date_fields,
                                          *ENTITIES[name].numeric_fields)}
    unknown = sorted(set(filters) - known)
    if unknown:
        raise ValidationFailed(f"cannot filter {', '.join(types)} by {unknown}",
                               details={"field": "filters", "value": unknown, "allowed": sorted(known)})


def parse_facets(raw: str | list[str] | None, types: list[str]) -> dict[str, list[str]]:
    """The facets to count per type: none by default; `*` every facet of each type; or a comma-separated list of
    facet names (camelCase or snake_case), each counted on the types that have it. Counting is opt-in, as with
    Algolia's `facets`: Typesense counts a facet over every hit, which for a broad query over a large organization
    is most of the search's time (docs/performance.md), and the search box needs none."""
    names = [n.strip() for n in raw.split(",")] if isinstance(raw, str) else list(raw or [])
    names = [n for n in names if n]
    if not names:
        return {}
    if names == ["*"]:
        return {name: list(ENTITIES[name].facets) for name in types}
    wanted = list(dict.fromkeys(to_snake(n) for n in names))
    known = {f for name in types for f in ENTITIES[name].facets}
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise ValidationFailed(f"cannot count facets {unknown} of {', '.join(types)}; write * for all of them",
                               details={"field": "facets", "value": unknown, "allowed": sorted(known)})
    return {name: [f for f in wanted if f in ENTITIES[name].facets] for name in types}


# -- search ---------------------------------------------------------------------------------------------------

# The organization's search tenant, the number its scoped key pins (serving/search/engine.py); read with row-level
# security binding the organization, as every statement of a search.
_TENANT = "(select o.search_tenant from app.organizations o where o.id = app.current_org_id()) as tenant"
# The organization's distinct industries (up to 500), offered to query understanding ("in fintech") for queries of
# two words or more, and its search tenant; one row, so the API reads it in the same round trip as authentication
# (serving/core/fast_read.py). A skip scan of ix_accounts_org_industry: the first value, then each next one above
# it, one index probe each (row-level security pins the organization), so its cost follows the number of
# industries, not of accounts (`select distinct` scanned every account: 45.8 ms at 250,000 accounts, now 0.15 ms).
INDUSTRIES_SQL = (
    "with recursive found (industry, n) as ("
    " (select industry, 1 from app.accounts where industry > '' order by industry limit 1)"
    " union all"
    " select (select a.industry from app.accounts a where a.industry > found.industry order by a.industry limit 1),"
    " n + 1 from found where found.industry is not null and n < 500)"
    " select coalesce(array_agg(industry order by industry) filter (where industry is not null), '{}')"
    f" as industries, {_TENANT} from found")
TENANT_SQL = f"select '{{}}'::text[] as industries, {_TENANT}"


def needs_industries(query: str) -> bool:
    return len(query.split()) >= 2


def search_context(db_session: Session, query: str) -> tuple[list[str], int]:
    """The organization's industries (when the query needs them) and its search tenant."""
    row = db_session.execute(text(INDUSTRIES_SQL if needs_industries(query) else TENANT_SQL)).one()
    return list(row.industries), tenant_of(row.tenant)


def tenant_of(tenant: int | None) -> int:
    if tenant is None:  # the organization was deleted while its caller's credentials were being checked
        raise NotFound("the organization no longer exists")
    return int(tenant)


def _hit(entity: Entity, hit: dict, rank: int) -> dict:
    document = hit["document"]
    for hidden in ("organization_id", "tenant"):  # never sent (the searches exclude them too); the hit is ours
        document.pop(hidden, None)
    highlights = [{"field": h.get("field"), "snippet": h.get("snippet") or ", ".join(h.get("snippets", [])),
                   "matched_tokens": [t if isinstance(t, str) else " ".join(t) for t in h.get("matched_tokens", [])]}
                  for h in hit.get("highlights", [])]
    return {"id": document["id"], "type": entity.type, "title": document.get(entity.title_field), "rank": rank,
            "text_match": hit.get("text_match"), "highlights": highlights, "document": document}


@dataclass
class SearchPlan:
    """What one search sends Typesense, and what shaping its answer needs."""

    query: str
    understanding: Understanding
    requested: dict[str, Any]
    plan: list[tuple[Entity, list[str]]]
    searches: list[dict]
    page: int
    per_page: int
    started: float


def plan_search(*, index: SearchIndex, principal: Principal, query: str, types: list[str] | None,
                filters: str | dict | None, page: int, per_page: int, industries: list[str],
                facets: str | list[str] | None = None, today: date | None = None,
                started: float | None = None) -> SearchPlan:
    """The searches for `query` over the types the principal may read (pure: no database, no Typesense)."""
    started = time.perf_counter() if started is None else started
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValidationFailed(f"perPage must be between 1 and {MAX_PER_PAGE}",
                               details={"field": "perPage", "value": per_page})
    searchable = allowed_types(principal, types)
    requested = parse_filters(filters)
    if requested:
        check_filter_names(searchable, requested)
    counted = parse_facets(facets, searchable)
    u: Understanding = understand(query, types=searchable, today=today or date.today(),
                                  user_id=str(principal.user_id) if principal.user_id else None,
                                  industries=industries if needs_industries(query) else [])
    plan: list[tuple[Entity, list[str]]] = []
    for name in u.types:
        entity = ENTITIES[name]
        clauses = filter_clauses(entity, requested)
        if clauses is None:
            continue
        if entity.viewer_filter and principal.role == Role.viewer:
            clauses.append(entity.viewer_filter)
        plan.append((entity, [*u.filters.get(name, []), *clauses]))
    searches = [search_params(index, entity, u.text, clauses, counted.get(entity.name, []), page=page,
                              per_page=per_page) for entity, clauses in plan]
    return SearchPlan(query=query, understanding=u, requested=requested, plan=plan, searches=searches, page=page,
                      per_page=per_page, started=started)


def search_params(index: SearchIndex, entity: Entity, text_query: str, clauses: list[str], facets: list[str], *,
                  page: int, per_page: int) -> dict[str, Any]:
    """One type's search in the multi-search (the benchmark sends the same straight to Typesense)."""
    params: dict[str, Any] = {
        "collection": index.alias(entity.name), "q": text_query, "query_by": entity.query_by_param,
        "query_by_weights": entity.weights_param, "filter_by": " && ".join(clauses), "sort_by": entity.default_sort,
        "page": page, "per_page": per_page, "highlight_full_fields": entity.title_field,
        "num_typos": 2, "prefix": True, "exclude_fields": "organization_id,tenant",
    }
    if facets:
        params.update(facet_by=",".join(facets), max_facet_values=10)
    return params


def shape(planned: SearchPlan, results: list[dict]) -> dict[str, Any]:
    """Typesense's answers as the response's lists, counts and facets (before semantic hits and the log)."""
    response: dict[str, Any] = {"query": planned.query, "found": {}, "facets": {}}
    offset = (planned.page - 1) * planned.per_page
    for (entity, _), result in zip(planned.plan, results, strict=True):
        if "error" in result:
            if result.get("code") == 404:  # a collection or field the index lacks: built by an older release
                raise SearchUnavailable(f"the search index of {entity.name} is being rebuilt; try again shortly "
                                        f"({result['error']})")
            raise ValidationFailed(f"cannot search {entity.name}: {result['error']}",
                                   details={"type": entity.name, "error": result["error"]})
        response[entity.name] = [_hit(entity, hit, offset + i + 1) for i, hit in enumerate(result.get("hits", []))]
        response["found"][entity.name] = result.get("found", 0)
        if result.get("facet_counts"):
            response["facets"][entity.name] = {
                f["field_name"]: [{"value": c["value"], "count": c["count"]} for c in f.get("counts", [])]
                for f in result["facet_counts"]}
    return response


def wants_semantic(planned: SearchPlan, response: dict) -> bool:
    """Whether hybrid ranking applies (see `_add_semantic`): it needs the database and the embedding model."""
    return ("documents" in response and planned.understanding.text != "*" and planned.page == 1
            and not (bool(planned.understanding.filters.get("documents")) or bool(planned.requested))
            and len(response["documents"]) < planned.per_page
            and len(planned.understanding.text.split()) >= MIN_SEMANTIC_WORDS)


def add_semantic(*, db_session: Session, planned: SearchPlan, response: dict) -> None:
    _add_semantic(db_session, response, planned.understanding.text, per_page=planned.per_page, page=planned.page,
                  filtered=bool(planned.understanding.filters.get("documents")) or bool(planned.requested))


def finish(*, planned: SearchPlan, principal: Principal, response: dict) -> tuple[dict, SearchRecord]:
    """The jump to the one record a lookup names, the totals and time; and the search's analytics record."""
    u = planned.understanding
    if u.lookup:
        name = u.lookup[0]
        if response["found"].get(name) == 1:
            response["jump_to"] = {"type": ENTITIES[name].type, "id": response[name][0]["id"]}
    total = sum(response["found"].values())
    elapsed = round((time.perf_counter() - planned.started) * 1000)
    understood = u.as_dict()
    response.update(total_results=total, search_time=elapsed, understood=understood)
    record = SearchRecord.of(principal=principal, query=planned.query, types=[e.name for e, _ in planned.plan],
                             filters=planned.requested, understood=understood, result_count=total,
                             latency_ms=elapsed)
    response["search_id"] = record.id
    return response, record


def search(*, db_session: Session, index: SearchIndex, principal: Principal, query: str,
           types: list[str] | None = None, filters: str | dict | None = None, page: int = 1, per_page: int = 10,
           facets: str | list[str] | None = None, today: date | None = None) -> dict:
    """One search in a database session (the analytics row written in it); the API uses `search_async`."""
    started = time.perf_counter()
    industries, tenant = search_context(db_session, query)
    planned = plan_search(index=index, principal=principal, query=query, types=types, filters=filters, page=page,
                          per_page=per_page, industries=industries, facets=facets, today=today, started=started)
    key, _ = index.scoped_key(tenant)
    response = shape(planned, index.multi_search(key, planned.searches) if planned.searches else [])
    if wants_semantic(planned, response):
        add_semantic(db_session=db_session, planned=planned, response=response)
    response, record = finish(planned=planned, principal=principal, response=response)
    write_searches(db_session=db_session, records=[record])
    return response


async def search_async(*, index: SearchIndex, principal: Principal, query: str, types: list[str] | None,
                       filters: str | dict | None, page: int, per_page: int, industries: list[str], tenant: int,
                       facets: str | None, started: float, semantic: Callable[[SearchPlan, dict], Awaitable[None]]
                       ) -> tuple[dict, SearchRecord]:
    """The API's search on the event loop: the plan, one multi-search over the kept-alive async pool, the
    response; `semantic` adds hybrid hits when they apply (a database session and the model, off the loop). The
    caller logs the returned record (`serving.search.search_log`)."""
    planned = plan_search(index=index, principal=principal, query=query, types=types, filters=filters, page=page,
                          per_page=per_page, industries=industries, facets=facets, started=started)
    key, _ = index.scoped_key(tenant)
    response = shape(planned, await index.multi_search_async(key, planned.searches) if planned.searches else [])
    if wants_semantic(planned, response):
        await semantic(planned, response)
    return finish(planned=planned, principal=principal, response=response)


# Cosine similarity of MiniLM embeddings above which a chunk is taken as relevant (paraphrases of a question score
# about 0.35–0.6; unrelated text below 0.2).
SEMANTIC_THRESHOLD = 0.3
MIN_SEMANTIC_WORDS = 3
RRF_K = 60


def _add_semantic(db_session: Session, response: dict, text_query: str, *, per_page: int, page: int,
                  filtered: bool) -> None:
    """Hybrid ranking for documents where the keyword match is weak (fewer hits than a page): the chunks nearest
    in meaning (pgvector) are fused with the keyword hits by reciprocal rank fusion; a hit found only by meaning
    says `semantic: true`. Only for phrases of three words or more (a name or a word is a keyword query, and
    embedding it would cost every search a model call), never with filters (the vector search cannot apply them)
    or after the first page."""
    keyword = response["documents"]
    if filtered or page > 1 or len(keyword) >= per_page or len(text_query.split()) < MIN_SEMANTIC_WORDS:
        return
    matches = knowledge.match(db_session=db_session, query=text_query, threshold=SEMANTIC_THRESHOLD, limit=per_page)
    scores: dict[str, float] = {}
    hits: dict[str, dict] = {}
    for rank, hit in enumerate(keyword, start=1):
        scores[hit["id"]] = 1 / (RRF_K + rank)
        hits[hit["id"]] = hit
    for rank, row in enumerate(matches, start=1):
        doc_id = str(row["id"])
        scores[doc_id] = scores.get(doc_id, 0) + 1 / (RRF_K + rank)
        if doc_id not in hits:
            hits[doc_id] = {"id": doc_id, "type": "document", "title": row["title"], "text_match": None,
                            "semantic": True, "highlights": [],
                            "document": {"id": doc_id, "type": "document", "name": row["title"], "url": row["url"],
                                         "content": row["content"], "chunk_index": row["chunk_index"],
                                         "similarity": round(float(row["similarity"]), 4),
                                         "company_profile_id": str(row["company_profile_id"] or "") or None,
                                         "source_id": str(row["source_id"] or "") or None}}
    ordered = sorted(hits.values(), key=lambda h: -scores[h["id"]])[:per_page]
    for rank, hit in enumerate(ordered, start=1):
        hit["rank"] = rank
    added = sum(1 for h in hits.values() if h.get("semantic"))
    response["documents"] = ordered
    response["found"]["documents"] += added


@dataclass(frozen=True)
class SearchRecord:
    """One search's analytics row, taken when it was answered (written later, in a batch, by the API)."""

    id: uuid.UUID
    organization_id: uuid.UUID
    user_id: uuid.UUID | None
    api_key_id: uuid.UUID | None
    query: str
    normalized_query: str
    types: list[str]
    filters: dict
    understood: dict
    result_count: int
    latency_ms: int
    created_at: datetime

    @classmethod
    def of(cls, *, principal: Principal, query: str, types: list[str], filters: dict, understood: dict,
           result_count: int, latency_ms: int) -> SearchRecord:
        return cls(id=uuid.uuid4(), organization_id=principal.organization_id, user_id=principal.user_id,
                   api_key_id=principal.api_key_id, query=query[:500], normalized_query=normalize(query)[:500],
                   types=types, filters=filters, understood=understood, result_count=result_count,
                   latency_ms=latency_ms, created_at=utcnow())


def write_searches(*, db_session: Session, records: list[SearchRecord]) -> None:
    """Insert the searches' analytics rows and count the popular queries, in the session's tenant: two
    statements for any number of searches. A user deleted since the search is logged as no user (the column's
    ON DELETE SET NULL, applied late)."""
    if not records:
        return
    rows = [{"id": str(r.id), "organization_id": str(r.organization_id),
             "user_id": str(r.user_id) if r.user_id else None,
             "api_key_id": str(r.api_key_id) if r.api_key_id else None, "query": r.query,
             "normalized_query": r.normalized_query, "types": r.types, "filters": r.filters,
             "understood": r.understood, "result_count": r.result_count, "latency_ms": r.latency_ms,
             "created_at": r.created_at.isoformat()} for r in records]
    db_session.execute(text("""
        insert into app.search_analytics (id, organization_id, user_id, api_key_id, query, normalized_query, types,
                                          filters, understood, result_count, latency_ms, created_at)
        select r.id, r.organization_id, u.id, r.api_key_id, r.query, r.normalized_query,
               array(select jsonb_array_elements_text(r.types)), r.filters, r.understood, r.result_count,
               r.latency_ms, r.created_at
        from jsonb_to_recordset(cast(:rows as jsonb)) as r(id uuid, organization_id uuid, user_id uuid,
             api_key_id uuid, query text, normalized_query text, types jsonb, filters jsonb, understood jsonb,
             result_count int, latency_ms int, created_at timestamptz)
        left join app.users u on u.id = r.user_id"""), {"rows": json.dumps(rows)})
    # popular queries feed suggestions: only queries that found something, summed per query (the last search's
    # result count and time win, as they did one search at a time)
    popular_rows: dict[tuple[uuid.UUID, str], dict] = {}
    for r in sorted(records, key=lambda r: r.created_at):
        if r.normalized_query and r.result_count > 0:
            entry = popular_rows.setdefault((r.organization_id, r.normalized_query), {
                "organization_id": str(r.organization_id), "normalized_query": r.normalized_query, "n": 0})
            entry.update(n=entry["n"] + 1, result_count=r.result_count, last=r.created_at.isoformat())
    if popular_rows:
        db_session.execute(text("""
            insert into app.search_popular_queries (organization_id, normalized_query, search_count, result_count,
                                                    last_searched_at)
            select organization_id, normalized_query, n, result_count, last
            from jsonb_to_recordset(cast(:rows as jsonb)) as r(organization_id uuid, normalized_query text, n int,
                                                              result_count int, last timestamptz)
            on conflict (organization_id, normalized_query) do update
            set search_count = app.search_popular_queries.search_count + excluded.search_count,
                result_count = excluded.result_count,
                last_searched_at = greatest(app.search_popular_queries.last_searched_at, excluded.last_searched_at)
            """), {"rows": json.dumps(list(popular_rows.values()))})


# -- suggestions ----------------------------------------------------------------------------------------------

def suggestions(*, db_session: Session, index: SearchIndex, principal: Principal, query: str,
                limit: int = 8) -> list[dict]:
    """Record names that start with what was typed (typo-tolerant), then popular queries of the organization."""
    prefix = " ".join(query.split())
    if not prefix:
        return popular(db_session=db_session, prefix="", limit=limit)
    types = [t for t in SUGGESTION_TYPES if principal.can(ENTITIES[t].scope)]
    searches = [{"collection": index.alias(t), "q": prefix, "query_by": ENTITIES[t].title_field,
                 "prefix": True, "num_typos": 1, "per_page": limit, "include_fields": f"id,{ENTITIES[t].title_field}",
                 "sort_by": ENTITIES[t].default_sort} for t in types]
    key, _ = index.scoped_key(search_context(db_session, "")[1])
    found: list[dict] = []
    for name, result in zip(types, index.multi_search(key, searches) if searches else [], strict=True):
        for hit in result.get("hits", []):
            title = hit["document"].get(ENTITIES[name].title_field)
            if title:
                found.append({"text": title, "kind": "record", "type": ENTITIES[name].type,
                              "id": hit["document"]["id"], "_score": hit.get("text_match", 0)})
    found.sort(key=lambda s: -s.pop("_score"))
    seen = {s["text"].lower() for s in found}
    queries = [q for q in popular(db_session=db_session, prefix=normalize(prefix), limit=limit)
               if q["text"] not in seen]
    records = found[: max(limit - min(len(queries), limit // 2), 0)]
    return (records + queries)[:limit]


def popular(*, db_session: Session, prefix: str, limit: int) -> list[dict]:
    rows = db_session.scalars(
        select(SearchPopularQuery.normalized_query)
        .where(SearchPopularQuery.normalized_query.startswith(prefix, autoescape=True))
        .order_by(SearchPopularQuery.search_count.desc(), SearchPopularQuery.last_searched_at.desc())
        .limit(limit))
    return [{"text": q, "kind": "popular_query"} for q in rows]


# -- saved searches and clicks --------------------------------------------------------------------------------

def save(*, db_session: Session, principal: Principal, name: str, query: str, types: list[str],
         filters: dict) -> SavedSearch:
    searchable = allowed_types(principal, types or None)
    parsed = parse_filters(filters)
    if parsed:
        check_filter_names(searchable, parsed)
    saved = SavedSearch(organization_id=principal.organization_id, user_id=principal.user_id, name=name,
                        query=query, types=types, filters=filters)
    db_session.add(saved)
    db_session.flush()
    return saved


def saved_of(*, principal: Principal):
    return (select(SavedSearch).where(SavedSearch.user_id == principal.user_id)
            .order_by(SavedSearch.created_at.desc(), SavedSearch.id))


def get_saved(*, db_session: Session, principal: Principal, saved_id: uuid.UUID) -> SavedSearch:
    saved = db_session.get(SavedSearch, saved_id)
    if saved is None or saved.user_id != principal.user_id:
        raise NotFound("saved search", saved_id)
    return saved


def delete_saved(*, db_session: Session, principal: Principal, saved_id: uuid.UUID) -> None:
    get_saved(db_session=db_session, principal=principal, saved_id=saved_id)
    db_session.execute(delete(SavedSearch).where(SavedSearch.id == saved_id))


def record_click(*, db_session: Session, principal: Principal, search_id: uuid.UUID, entity: str,
                 record_id: uuid.UUID, rank: int) -> SearchClick:
    if db_session.get(SearchAnalytics, search_id) is None:
        raise NotFound("search", search_id)
    click = SearchClick(organization_id=principal.organization_id, search_id=search_id, user_id=principal.user_id,
                        entity=entity, record_id=record_id, position=rank)
    db_session.add(click)
    db_session.flush()
    return click


# -- analytics ------------------------------------------------------------------------------------------------

REFINEMENT_WINDOW = timedelta(minutes=5)


def analytics(*, db_session: Session, since: datetime, until: datetime, limit: int = 10) -> dict:
    """Top and zero-result searches, search time, click-through overall and by position, refinements (the next
    query by the same user within five minutes). Aggregates only: no user is named."""
    params = {"since": since, "until": until, "limit": limit, "window": REFINEMENT_WINDOW}
    summary = db_session.execute(text("""
        select count(*) as searches, avg(latency_ms) as avg_time,
               percentile_cont(0.95) within group (order by latency_ms) as p95_time,
               avg((result_count = 0)::int) as zero_rate,
               avg((exists (select 1 from app.search_clicks c where c.search_id = s.id))::int) as ctr
        from app.search_analytics s where created_at >= :since and created_at < :until"""), params).one()
    top = db_session.execute(text("""
        select s.normalized_query as query, count(*) as searches, avg(s.result_count) as avg_results,
               count(c.id) as clicks
        from app.search_analytics s left join app.search_clicks c on c.search_id = s.id
        where s.created_at >= :since and s.created_at < :until and s.normalized_query <> ''
        group by 1 order by searches desc, query limit :limit"""), params).mappings().all()
    zero = db_session.execute(text("""
        select normalized_query as query, count(*) as searches
        from app.search_analytics where created_at >= :since and created_at < :until and result_count = 0
          and normalized_query <> ''
        group by 1 order by searches desc, query limit :limit"""), params).mappings().all()
    positions = db_session.execute(text("""
        with searches as (select count(*) as n from app.search_analytics
                          where created_at >= :since and created_at < :until)
        select c.position, count(*) as clicks, count(*)::float / nullif((select n from searches), 0) as ctr
        from app.search_clicks c join app.search_analytics s on s.id = c.search_id
        where s.created_at >= :since and s.created_at < :until
        group by c.position order by c.position limit 20"""), params).mappings().all()
    refinements = db_session.execute(text("""
        with ordered as (
          select normalized_query, created_at,
                 lead(normalized_query) over w as next_query, lead(created_at) over w as next_at
          from app.search_analytics
          where created_at >= :since and created_at < :until and user_id is not null
          window w as (partition by user_id order by created_at))
        select normalized_query as query, next_query, count(*) as count from ordered
        where next_query is not null and next_query <> normalized_query and next_at - created_at <= :window
        group by 1, 2 order by count desc, query limit :limit"""), params).mappings().all()
    return {
        "since": since, "until": until, "searches": summary.searches,
        "avg_search_time": float(summary.avg_time) if summary.avg_time is not None else None,
        "p95_search_time": float(summary.p95_time) if summary.p95_time is not None else None,
        "zero_result_rate": float(summary.zero_rate) if summary.zero_rate is not None else None,
        "click_through_rate": float(summary.ctr) if summary.ctr is not None else None,
        "top_searches": [dict(r) for r in top], "zero_result_searches": [dict(r) for r in zero],
        "click_through_by_position": [{"position": r["position"], "clicks": r["clicks"],
                                       "click_through_rate": r["ctr"] or 0.0} for r in positions],
        "refinements": [dict(r) for r in refinements],
    }


"""Search API shapes (camelCase on the wire). The search response follows the seed: one list per type, plus
`totalResults` and `searchTime` (milliseconds), and says what query understanding made of the query."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field, field_validator

from serving.core.schemas import ApiModel, InputModel
from serving.search.collections import ENTITIES


class Highlight(ApiModel):
    field: str
    snippet: str
    matched_tokens: list[str] = []


class SearchHit(ApiModel):
    id: uuid.UUID
    type: str
    title: str | None
    rank: int = Field(description="1-based position within its type's list (send it back with a click)")
    text_match: int | None = Field(None, description="Typesense's text-match score (0 for a filter-only query)")
    semantic: bool = Field(False, description="found by meaning (embeddings), not by its words")
    highlights: list[Highlight] = []
    document: dict[str, Any]


class FacetValue(ApiModel):
    value: str
    count: int


class Understood(ApiModel):
    text: str = Field(description="the words searched as text after the understood phrases were taken out")
    types: list[str]
    phrases: list[dict[str, str]] = Field(description="each phrase turned into a filter, and its meaning")
    filters: dict[str, str] = Field(description="the filter applied per type (understood and requested)")


class JumpTo(ApiModel):
    type: str
    id: uuid.UUID


class SearchResponse(ApiModel):
    search_id: uuid.UUID
    query: str
    prospects: list[SearchHit] | None = None
    accounts: list[SearchHit] | None = None
    deals: list[SearchHit] | None = None
    emails: list[SearchHit] | None = None
    documents: list[SearchHit] | None = None
    kb_articles: list[SearchHit] | None = None
    found: dict[str, int] = Field(description="matches per type (the lists hold one page)")
    total_results: int
    search_time: int = Field(description="milliseconds, engine and API")
    facets: dict[str, dict[str, list[FacetValue]]] = Field(
        description="per type, the counts of the facets asked for with `facets` (none by default)")
    understood: Understood
    jump_to: JumpTo | None = Field(None, description="the one record the query names (an e-mail, a domain)")


class Suggestion(ApiModel):
    text: str
    kind: str = Field(description="a record's name (prospect, account, deal) or a popular query")
    type: str | None = None
    id: uuid.UUID | None = None


class Suggestions(ApiModel):
    query: str
    suggestions: list[Suggestion]


class SavedSearchIn(InputModel):
    name: str = Field(min_length=1, max_length=200)
    query: str = Field("", max_length=500)
    types: list[str] = []
    filters: dict[str, Any] = {}

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(ENTITIES))
        if unknown:
            raise ValueError(f"unknown types {unknown}; searchable types are {sorted(ENTITIES)}")
        return list(dict.fromkeys(value))


class SavedSearchOut(ApiModel):
    id: uuid.UUID
    name: str
    query: str
    types: list[str]
    filters: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class ClickIn(InputModel):
    search_id: uuid.UUID
    type: str
    id: uuid.UUID
    rank: int = Field(ge=1, le=1000)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in ENTITIES:
            raise ValueError(f"unknown type {value!r}; searchable types are {sorted(ENTITIES)}")
        return value


class QueryStat(ApiModel):
    query: str
    searches: int
    avg_results: float | None = None
    clicks: int | None = None


class PositionStat(ApiModel):
    position: int
    clicks: int
    click_through_rate: float


class Refinement(ApiModel):
    query: str
    next_query: str
    count: int


class SearchAnalyticsOut(ApiModel):
    since: datetime
    until: datetime
    searches: int
    avg_search_time: float | None
    p95_search_time: float | None
    zero_result_rate: float | None
    click_through_rate: float | None
    top_searches: list[QueryStat]
    zero_result_searches: list[QueryStat]
    click_through_by_position: list[PositionStat]
    refinements: list[Refinement]

"""`?page=&limit=` parameters and the `{data, pagination}` envelope, shared by every list endpoint."""

from __future__ import annotations

import math
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


class PageParams(BaseModel):
    page: int = 1
    limit: int = 50

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def _page_params(
    page: Annotated[int, Query(ge=1, le=100_000, description="1-based page number")] = 1,
    limit: Annotated[int, Query(ge=1, le=500, description="items per page")] = 50,
) -> PageParams:
    return PageParams(page=page, limit=limit)


Pagination = Annotated[PageParams, Depends(_page_params)]


class PaginationMeta(BaseModel):
    page: int
    limit: int
    total: int
    pages: int


class Page(BaseModel, Generic[T]):
    data: list[T]
    pagination: PaginationMeta


def paginate(db_session: Session, stmt: Select, params: PageParams) -> tuple[list[Any], PaginationMeta]:
    total = db_session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = list(db_session.scalars(stmt.limit(params.limit).offset(params.offset)))
    meta = PaginationMeta(
        page=params.page, limit=params.limit, total=total, pages=math.ceil(total / params.limit) if total else 0
    )
    return rows, meta


def paginate_list(items: list[Any], params: PageParams) -> tuple[list[Any], PaginationMeta]:
    """The same window over a list already in memory (a cadence's steps, files in the outbox)."""
    total = len(items)
    meta = PaginationMeta(
        page=params.page, limit=params.limit, total=total, pages=math.ceil(total / params.limit) if total else 0
    )
    return items[params.offset:params.offset + params.limit], meta


def page_of(items: list[Any], meta: PaginationMeta) -> dict:
    return {"data": items, "pagination": meta}

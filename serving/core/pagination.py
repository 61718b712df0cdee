"""`?page=&limit=` parameters and the `{data, pagination}` envelope, shared by every list endpoint."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select, text
from sqlalchemy.exc import OperationalError
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
    # Present (false) only when counting exactly would cost more than the list itself (a large book): `total` is
    # then a lower bound — the capped count, or what the pages read so far prove — and `pages` follows from it.
    total_exact: bool = Field(default=True, exclude_if=lambda exact: exact, serialization_alias="totalExact",
                              description="false: `total` is a lower bound, not an exact count")


class Page(BaseModel, Generic[T]):
    data: list[T]
    pagination: PaginationMeta


def paginate(db_session: Session, stmt: Select, params: PageParams, *, count_cap: int | None = None,
             count_budget_ms: int | None = None) -> tuple[list[Any], PaginationMeta]:
    """One page and the total. With `count_cap`, counting stops at the cap (a larger total is reported as
    `cap + 1`, not exact); with `count_budget_ms`, a count that takes longer is given up and the total is what this
    page proves (not exact) — a list over a million rows answers in the time of its page, not of a full scan."""
    rows = list(db_session.scalars(stmt.limit(params.limit).offset(params.offset)))
    counted = stmt.order_by(None)
    if count_cap is not None:
        counted = counted.limit(count_cap + 1)
    total = _count(db_session, select(func.count()).select_from(counted.subquery()), count_budget_ms)
    exact = total is not None and (count_cap is None or total <= count_cap)
    if total is None:  # ran out of time: the rows before this page and on it exist, and one more if it is full
        total = params.offset + len(rows) + (1 if len(rows) == params.limit else 0)
    meta = PaginationMeta(page=params.page, limit=params.limit, total=total,
                          pages=math.ceil(total / params.limit) if total else 0, total_exact=exact)
    return rows, meta


class BudgetExceeded(Exception):
    """The statements of a `within_budget` block took longer than its budget (and were rolled back)."""


@contextlib.contextmanager
def within_budget(db_session: Session, budget_ms: int) -> Iterator[None]:
    """Run the block's statements in a savepoint under a statement timeout: past it they are cancelled, the
    savepoint (and the timeout with it) rolls back, the request goes on, and `BudgetExceeded` says so."""
    try:
        with db_session.begin_nested():
            before = db_session.scalar(text("select current_setting('statement_timeout')"))
            db_session.execute(text("select set_config('statement_timeout', :ms, true)"), {"ms": str(int(budget_ms))})
            yield
            db_session.execute(text("select set_config('statement_timeout', :was, true)"), {"was": before})
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "57014":  # query_canceled: the budget ran out
            raise
        raise BudgetExceeded from None


def _count(db_session: Session, stmt: Select, budget_ms: int | None) -> int | None:
    if budget_ms is None:
        return db_session.scalar(stmt) or 0
    try:
        with within_budget(db_session, budget_ms):
            total = db_session.scalar(stmt) or 0
    except BudgetExceeded:
        return None
    return total


def paginate_list(items: list[Any], params: PageParams) -> tuple[list[Any], PaginationMeta]:
    """The same window over a list already in memory (a cadence's steps, files in the outbox)."""
    total = len(items)
    meta = PaginationMeta(
        page=params.page, limit=params.limit, total=total, pages=math.ceil(total / params.limit) if total else 0
    )
    return items[params.offset:params.offset + params.limit], meta


def page_of(items: list[Any], meta: PaginationMeta) -> dict:
    return {"data": items, "pagination": meta}

"""Shared filter and sort helpers for list endpoints (`?sort=-createdAt`, ranges, free text)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar

from pydantic.alias_generators import to_camel
from sqlalchemy import Select, or_
from sqlalchemy.sql.elements import ColumnElement

from serving.core.errors import ValidationFailed

E = TypeVar("E", bound=Enum)


def apply_sort(
    stmt: Select, sort: str | None, columns: Mapping[str, Any], *, default: str, tiebreak: Any
) -> Select:
    """`sort` is a comma-separated list of camelCase (or snake_case) fields, `-` for descending."""
    order = []
    for part in (sort or default).split(","):
        part = part.strip()
        if not part:
            continue
        descending = part.startswith("-")
        name = part.lstrip("-+")
        column = columns.get(name)
        if column is None:  # snake_case is accepted wherever camelCase is
            column = columns.get(to_camel(name))
        if column is None:
            raise ValidationFailed(
                f"cannot sort by '{name}'", details={"field": "sort", "value": sort, "allowed": sorted(columns)}
            )
        order.append(column.desc().nulls_last() if descending else column.asc().nulls_last())
    return stmt.order_by(*order, tiebreak)


def escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains_any(text: str, *columns: Any) -> ColumnElement[bool]:
    pattern = f"%{escape_like(text.strip())}%"
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))


def check_range(name: str, low: float | None, high: float | None) -> None:
    if low is not None and high is not None and low > high:
        raise ValidationFailed(f"{name}: minimum is greater than maximum",
                               details={"field": name, "value": [low, high]})


def parse_choices(value: str | None, choices: type[E], *, field: str) -> list[E]:
    """`?status=a,b` as enum members; a name that is none of them is a 422 naming the allowed ones (matching
    nothing instead would read as "there are none")."""
    parsed = []
    for part in (value or "").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            parsed.append(choices(part))
        except ValueError:
            raise ValidationFailed(
                f"unknown {field} '{part}'",
                details={"field": field, "value": part, "allowed": [c.value for c in choices]},
            ) from None
    return parsed

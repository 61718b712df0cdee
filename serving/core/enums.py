"""Helpers for text enums stored with CHECK constraints (easier to evolve than PG enum types)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint


def check_in(column: str, enum: type[StrEnum], *, name: str | None = None, nullable: bool = True) -> CheckConstraint:
    values = ", ".join(f"'{member.value}'" for member in enum)
    condition = f"{column} in ({values})"
    if nullable:
        condition = f"{column} is null or {condition}"
    return CheckConstraint(condition, name=name or f"{column}_valid")


def check_score(column: str) -> CheckConstraint:
    return CheckConstraint(f"{column} is null or ({column} >= 0 and {column} <= 100)", name=f"{column}_0_100")

"""Account payloads and the hierarchy view. Health and intent scores come from the pipelines (read-only)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator

from serving.core.schemas import ApiModel, InputModel, Money, Name, Phone, Url
from serving.core.validation import MAX_MONEY, MoneyIn, NonNegativeInt32

ShortText = Field(default=None, max_length=255)


def normalize_domain(value: str) -> str:
    """`https://WWW.Acme.com:443/about` → `acme.com`: the lower-case bare host, so duplicates are found."""
    text = value.strip().lower()
    try:
        host = urlsplit(text if "://" in text else f"//{text}").hostname or ""
        host = host.rstrip(".").encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        raise ValueError("not a domain name (e.g. acme.com)") from None
    host = host.removeprefix("www.")
    labels = host.split(".")
    valid = (
        len(host) <= 253 and len(labels) >= 2 and not labels[-1].isdigit()
        and all(0 < len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii()
                and not label.startswith("-") and not label.endswith("-") for label in labels)
    )
    if not valid:
        raise ValueError("not a domain name (e.g. acme.com)")
    return host


Domain = Annotated[str, Field(max_length=2048), AfterValidator(normalize_domain)]
AnnualRevenue = MoneyIn


class AccountFields(InputModel):
    domain: Domain | None = None
    industry: str | None = ShortText
    employee_count: int | None = Field(default=None, ge=0, le=10_000_000)
    annual_revenue: AnnualRevenue | None = None
    website: Url | None = None
    phone: Phone | None = None
    country: str | None = ShortText
    city: str | None = ShortText
    description: str | None = Field(default=None, max_length=20000)
    year_established: int | None = Field(default=None, ge=1600, le=2100)
    owner_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    parent_account_id: uuid.UUID | None = None
    custom_fields: dict[str, Any] | None = None


class AccountCreate(AccountFields):
    name: Name


class AccountUpdate(AccountFields):
    name: Name | None = None

    @field_validator("name", "custom_fields")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Validators run only for fields that were sent, so this refuses an explicit null only.
        if value is None:
            raise ValueError("cannot be null")
        return value


class AccountOut(ApiModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    team_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    parent_account_id: uuid.UUID | None
    name: str
    domain: str | None
    industry: str | None
    employee_count: int | None
    annual_revenue: Money | None
    website: str | None
    phone: str | None
    country: str | None
    city: str | None
    description: str | None
    year_established: int | None
    health_score: int | None
    intent_score: int | None
    intent_tier: str | None
    custom_fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class AccountFilters(ApiModel):
    industry: list[str] | None = None
    owner_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    parent_account_id: uuid.UUID | None = None
    q: str | None = Field(default=None, max_length=255)
    min_employee_count: NonNegativeInt32 | None = None  # employee_count is an integer column
    max_employee_count: NonNegativeInt32 | None = None
    min_annual_revenue: Decimal | None = Field(default=None, ge=0, le=MAX_MONEY)
    max_annual_revenue: Decimal | None = Field(default=None, ge=0, le=MAX_MONEY)


class AccountSummary(ApiModel):
    id: uuid.UUID
    name: str
    domain: str | None
    industry: str | None
    parent_account_id: uuid.UUID | None
    owner_id: uuid.UUID | None


class AccountNode(AccountSummary):
    depth: int = Field(description="1 for a direct child")
    children: list[AccountNode] = Field(default_factory=list)


class AccountHierarchy(ApiModel):
    account: AccountSummary
    ancestors: list[AccountSummary] = Field(description="from the top-level account down to the direct parent")
    descendants: list[AccountNode] = Field(description="the account's children, each with its own children")
    descendant_count: int
    truncated: bool = Field(description="true when the tree was cut at the node limit")

"""Bodies of the model layer's API (/ai/models, /ai/usage, /ai/routing, /ai/budget)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field

from serving.core.schemas import ApiModel, InputModel, Money
from serving.core.validation import MoneyIn

ProviderName = Annotated[str, Field(min_length=1, max_length=40)]
ModelName = Annotated[str, Field(min_length=1, max_length=100)]
Task = Literal["draft", "rewrite", "classify", "summarize"]


class ModelOut(ApiModel):
    name: str
    provider: str
    input_usd_per_mtok: Money
    output_usd_per_mtok: Money
    tasks: list[str]
    available: bool = Field(description="the provider's API key is configured")


class UsageGroup(ApiModel):
    key: str | None = Field(description="the model, task, user id or day (YYYY-MM-DD)")
    calls: int
    errors: int
    refused: int
    input_tokens: int
    output_tokens: int
    cost_usd: Money


class UsageTotals(ApiModel):
    calls: int
    errors: int
    refused: int
    input_tokens: int
    output_tokens: int
    cost_usd: Money


class BudgetOut(ApiModel):
    monthly_cap_usd: Money | None = Field(description="null: no cap")
    source: Literal["organization", "settings", "none"]
    spent_usd: Money = Field(description="this calendar month (UTC), calls in flight counted at their estimate")
    remaining_usd: Money | None
    period: str
    resets_at: datetime


class UsageOut(ApiModel):
    date_from: date = Field(alias="from")
    date_to: date = Field(alias="to")
    group_by: str
    groups: list[UsageGroup]
    totals: UsageTotals
    budget: BudgetOut


class BudgetIn(InputModel):
    monthly_cap_usd: MoneyIn | None = Field(description="USD per calendar month; null: the AI_MONTHLY_BUDGET_USD "
                                                        "default (none: unlimited)")


class RouteStep(InputModel):
    provider: ProviderName
    model: ModelName


class RouteStepOut(ApiModel):
    provider: str
    model: str
    available: bool


class RouteOut(ApiModel):
    task: str
    source: Literal["organization", "default"]
    chain: list[RouteStepOut]


class RoutingOut(ApiModel):
    data: list[RouteOut]


class RoutingIn(InputModel):
    routes: dict[Task, Annotated[list[RouteStep], Field(max_length=10)] | None] = Field(
        min_length=1, description="task → ordered provider/model chain; null resets the task to the default")

"""Deal and deal-contact payloads. Risk and AI analysis are computed by the pipelines (read-only here)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, AliasChoices, Field, computed_field, field_validator

from serving.core.schemas import ApiModel, InputModel, Money, Name, Score
from serving.core.validation import MAX_MONEY, MoneyIn
from serving.deals.models import DealContactRole, DealStage, ForecastCategory
from serving.deals.rules import ISO_4217

NEXT_STEP_KEY = "nextStep"


def _currency(value: str) -> str:
    code = value.upper()
    if code not in ISO_4217:
        raise ValueError("not an ISO 4217 currency code (three letters, e.g. USD, EUR)")
    return code


Amount = MoneyIn
Currency = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(_currency)]
ShortText = Field(default=None, max_length=255)


class DealFields(InputModel):
    amount: Amount | None = None
    currency: Currency | None = None
    probability: Score | None = Field(
        default=None, description="0–100; defaults from the stage; null on update returns to the stage default"
    )
    stage: DealStage | None = None
    forecast_category: ForecastCategory | None = Field(
        default=None, description="set it to override the probability bands; null returns it to automatic"
    )
    close_date: date | None = None
    account_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    next_step: str | None = Field(default=None, max_length=1000)
    lost_reason: str | None = Field(default=None, max_length=2000)
    source: str | None = ShortText
    metadata: dict[str, Any] | None = None


class DealCreate(DealFields):
    name: Name


class DealUpdate(DealFields):
    name: Name | None = None

    @field_validator("name", "amount", "currency", "stage", "metadata")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Validators run only for fields that were sent, so this refuses an explicit null only.
        if value is None:
            raise ValueError("cannot be null")
        return value


class DealOut(ApiModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    team_id: uuid.UUID | None
    account_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    name: str
    amount: Money
    currency: str
    probability: int
    stage: str
    forecast_category: str
    forecast_category_manual: bool
    close_date: date | None
    risk_score: int | None
    ai_analysis: dict[str, Any]
    # The ORM attribute is `metadata_` (`metadata` is reserved by SQLAlchemy's declarative base).
    metadata_: dict[str, Any] = Field(
        default_factory=dict, validation_alias=AliasChoices("metadata_", "metadata"), serialization_alias="metadata"
    )
    lost_reason: str | None
    source: str | None
    stage_changed_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @computed_field
    @property
    def next_step(self) -> str | None:
        return self.metadata_.get(NEXT_STEP_KEY)


class DealFilters(ApiModel):
    stage: list[DealStage] | None = None
    forecast_category: list[ForecastCategory] | None = None
    owner_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    close_date_from: date | None = None
    close_date_to: date | None = None
    min_amount: Decimal | None = Field(default=None, ge=0, le=MAX_MONEY)
    max_amount: Decimal | None = Field(default=None, ge=0, le=MAX_MONEY)
    q: str | None = Field(default=None, max_length=255)


class DealContactCreate(InputModel):
    prospect_id: uuid.UUID
    role: DealContactRole | None = None
    is_primary: bool = False


class ProspectSummary(ApiModel):
    id: uuid.UUID
    email: str
    first_name: str | None
    last_name: str | None
    title: str | None
    company: str | None


class DealContactOut(ApiModel):
    id: uuid.UUID
    deal_id: uuid.UUID
    prospect_id: uuid.UUID
    role: str | None
    is_primary: bool
    created_at: datetime
    prospect: ProspectSummary | None = None


class RiskReasonOut(ApiModel):
    code: str
    message: str
    impact: int


class DealHealthOut(ApiModel):
    deal_id: uuid.UUID
    source: str = Field(description="'pipeline' when a model scored the deal, else 'rules'")
    score: int = Field(ge=0, le=100, description="100 - riskScore")
    risk_score: int = Field(ge=0, le=100)
    level: str = Field(description="healthy, at_risk, critical or closed")
    reasons: list[RiskReasonOut]
    facts: dict[str, Any]
    computed_at: datetime | None
    model_version: str | None = None

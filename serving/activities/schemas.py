"""Activity and call-log payloads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import AliasChoices, Field

from serving.core.schemas import ApiModel


class ActivityOut(ApiModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    user_id: uuid.UUID | None
    prospect_id: uuid.UUID | None
    account_id: uuid.UUID | None
    deal_id: uuid.UUID | None
    type: str
    subject: str | None
    description: str | None
    # The ORM attribute is `metadata_` (`metadata` is reserved by SQLAlchemy's declarative base).
    metadata_: dict[str, Any] = Field(
        default_factory=dict, validation_alias=AliasChoices("metadata_", "metadata"), serialization_alias="metadata"
    )
    occurred_at: datetime
    created_at: datetime

"""Check that ids a client sends point at rows of its own organization.

Foreign keys are checked by PostgreSQL without row-level security, so an id from another tenant
would pass them; looking the row up through the tenant-scoped session closes that gap.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from serving.core.errors import ValidationFailed


def require_visible(db_session: Session, model: type, value: uuid.UUID | None, field: str) -> Any:
    if value is None:
        return None
    row = db_session.get(model, value)
    if row is None:
        raise ValidationFailed(f"{field} does not refer to an existing record",
                               details={"field": field, "value": str(value)})
    return row

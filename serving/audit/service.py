"""Write audit records; callers pass the acting principal and what changed."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from serving.audit.models import AuditLog
from serving.core.principal import Principal


def record(
    *,
    db_session: Session,
    principal: Principal,
    action: str,
    entity_type: str,
    entity_id: Any = None,
    changes: dict[str, Any] | None = None,
) -> None:
    """File the record under the principal's organization: there is no second organization argument that could
    put an actor's change in another tenant's log."""
    db_session.add(
        AuditLog(
            organization_id=principal.organization_id,
            actor_user_id=principal.user_id,
            actor_api_key_id=principal.api_key_id,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id) if entity_id is not None else None,
            changes=_jsonable(changes or {}),
            ip_address=principal.ip_address,
            request_id=principal.request_id,
        )
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)

"""Write audit records; callers pass the acting principal and what changed."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from serving.audit.models import AuditLog
from serving.core.principal import Principal
from serving.users.models import User


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


# -- reading it (admins) ------------------------------------------------------------------------------------------

def records(*, actor_user_id=None, action=None, entity_type=None, entity_id=None, since=None, until=None) -> Select:
    """The log, newest first, filtered (the tenant's rows only: row-level security)."""
    stmt = select(AuditLog)
    if actor_user_id:
        stmt = stmt.where(AuditLog.actor_user_id == actor_user_id)
    if action:
        stmt = stmt.where(AuditLog.action == action)
    if entity_type:
        stmt = stmt.where(AuditLog.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditLog.entity_id == entity_id)
    if since:
        stmt = stmt.where(AuditLog.created_at >= since)
    if until:
        stmt = stmt.where(AuditLog.created_at < until)
    return stmt.order_by(AuditLog.created_at.desc(), AuditLog.id.desc())


def actor_emails(*, db_session: Session, records: list[AuditLog]) -> dict[uuid.UUID, str]:
    ids = {r.actor_user_id for r in records if r.actor_user_id}
    if not ids:
        return {}
    return dict(db_session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())


def record_dict(record: AuditLog, actor_email: str | None) -> dict[str, Any]:
    return {"id": record.id, "actor_user_id": record.actor_user_id, "actor_email": actor_email,
            "actor_api_key_id": record.actor_api_key_id, "action": record.action, "entity_type": record.entity_type,
            "entity_id": record.entity_id, "changes": record.changes or {}, "ip_address": record.ip_address,
            "request_id": record.request_id, "created_at": record.created_at}


EXPORT_LIMIT = 100_000
EXPORT_COLUMNS = ("created_at", "actor_email", "actor_user_id", "actor_api_key_id", "action", "entity_type",
                  "entity_id", "changes", "ip_address", "request_id")


def export_rows(*, db_session: Session, **filters: Any) -> list[dict[str, Any]]:
    """At most EXPORT_LIMIT records (narrow the time range for more), read before the response streams."""
    found = list(db_session.scalars(records(**filters).limit(EXPORT_LIMIT)))
    emails = actor_emails(db_session=db_session, records=found)
    return [record_dict(r, emails.get(r.actor_user_id)) for r in found]


def csv_lines(rows: list[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow([json.dumps(row[c], sort_keys=True) if c == "changes"
                         else (row[c].isoformat() if isinstance(row[c], datetime) else row[c] or "")
                         for c in EXPORT_COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()

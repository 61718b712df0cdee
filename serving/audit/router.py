"""/audit-log: who did what, readable and exportable by admins (seed 6.1)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import Field

from serving.audit import service
from serving.core.deps import AdminPrincipal, DbSession
from serving.core.pagination import Page, Pagination, page_of, paginate
from serving.core.schemas import ApiModel

router = APIRouter()


class AuditFilters(ApiModel):
    actor_user_id: uuid.UUID | None = None
    action: str | None = Field(default=None, max_length=100)
    entity_type: str | None = Field(default=None, max_length=100)
    entity_id: str | None = Field(default=None, max_length=200)
    since: datetime | None = None
    until: datetime | None = None


class AuditRecordOut(ApiModel):
    id: int
    actor_user_id: uuid.UUID | None
    actor_email: str | None
    actor_api_key_id: uuid.UUID | None
    action: str
    entity_type: str
    entity_id: str | None
    changes: dict
    ip_address: str | None
    request_id: str | None
    created_at: datetime


Filters = Annotated[AuditFilters, Query()]


@router.get("", response_model=Page[AuditRecordOut], summary="The audit log, newest first (admins)")
def list_records(db: DbSession, principal: AdminPrincipal, pagination: Pagination, filters: Filters):
    items, meta = paginate(db, service.records(**filters.model_dump()), pagination)
    emails = service.actor_emails(db_session=db, records=items)
    return page_of([AuditRecordOut(**service.record_dict(r, emails.get(r.actor_user_id))) for r in items], meta)


@router.get("/export", summary="The filtered audit log as CSV (admins), streamed",
            responses={200: {"content": {"text/csv": {}}}})
def export_records(db: DbSession, principal: AdminPrincipal, filters: Filters):
    rows = service.export_rows(db_session=db, **filters.model_dump())
    return StreamingResponse(service.csv_lines(rows), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'})

"""/prospects: CRUD, filters, CSV import/export, and an account's contacts (under /accounts).

The timeline is served by `serving.activities` and the insights by `serving.scoring` (both read prospects).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import field_validator

from serving.accounts import service as accounts_service
from serving.audit import service as audit
from serving.core import fast_read
from serving.core.deps import AppSettings, DbSession, require
from serving.core.errors import NotFound, PayloadTooLarge, ValidationFailed
from serving.core.idempotency import IdempotencyDep
from serving.core.pagination import Page, Pagination, page_of, paginate
from serving.core.permissions import Scope
from serving.core.principal import Principal
from serving.prospects import csv_io, service
from serving.prospects.models import Prospect, SavedView
from serving.prospects.schemas import (
    BulkAction,
    BulkResult,
    ImportResult,
    ProspectCreate,
    ProspectFilters,
    ProspectOut,
    ProspectUpdate,
    SavedViewCreate,
    SavedViewOut,
    SavedViewUpdate,
)

router = APIRouter()
# Mounted under /accounts: an account's prospects.
account_contacts_router = APIRouter()

Sort = Annotated[str | None, Query(description="comma-separated camelCase fields, '-' for descending")]
Reader = Annotated[Principal, require(Scope.prospects_read)]
Writer = Annotated[Principal, require(Scope.prospects_write)]


class ProspectQuery(ProspectFilters):
    sort: str | None = None

    @field_validator("status", "intent_tier", mode="before")
    @classmethod
    def _split(cls, value):
        if isinstance(value, list):
            return [part.strip() for item in value for part in str(item).split(",") if part.strip()]
        return value


Filters = Annotated[ProspectQuery, Query()]


def _get_or_404(db, prospect_id: uuid.UUID) -> Prospect:
    prospect = service.get(db_session=db, prospect_id=prospect_id)
    if prospect is None:
        raise NotFound("prospect", prospect_id)
    return prospect


@router.get("", response_model=Page[ProspectOut], summary="List prospects with filters, sort and pages")
def list_prospects(db: DbSession, principal: Reader, pagination: Pagination, filters: Filters, response: Response):
    # a book of a million: the page is read first, its total counted only within a budget, and a search that
    # outruns its budget answers by word prefixes from an index instead (docs/dashboards.md)
    items, meta, mode = service.search_page(db_session=db, filters=filters, sort=filters.sort, pagination=pagination)
    if filters.q:
        response.headers["X-Search-Mode"] = mode
    return page_of([ProspectOut.model_validate(p) for p in items], meta)


@router.post("", response_model=ProspectOut, status_code=201, summary="Create a prospect")
def create_prospect(body: ProspectCreate, db: DbSession, principal: Writer, idem: IdempotencyDep):
    def create() -> ProspectOut:
        prospect = service.create(db_session=db, principal=principal, data=body)
        audit.record(db_session=db, principal=principal,
                     action="create", entity_type="prospect", entity_id=prospect.id)
        return ProspectOut.model_validate(prospect)

    return idem.run(create, payload=body)


@router.post("/import", response_model=ImportResult, summary="Import prospects from a CSV file")
async def import_prospects(
    db: DbSession, principal: Writer, settings: AppSettings,
    file: Annotated[UploadFile, File(description="CSV with a header row; `email` is required")],
    delimiter: Annotated[str | None, Query(
        max_length=16, description="field delimiter: one punctuation character, or `tab`; "
        "default: detected among comma, semicolon, tab and pipe")] = None,
    encoding: Annotated[str | None, Query(
        max_length=40, description="text encoding, e.g. `cp1252`; default: byte-order mark, else UTF-8, "
        "else Windows-1252")] = None,
) -> ImportResult:
    data = await file.read(settings.import_max_bytes + 1)
    if len(data) > settings.import_max_bytes:
        raise PayloadTooLarge(f"file larger than {settings.import_max_bytes} bytes",
                              details={"maxBytes": settings.import_max_bytes})
    if not data.strip():
        raise ValidationFailed("the file is empty", code="INVALID_CSV", details={"field": "file"})
    parsed = csv_io.parse_import(data, delimiter=delimiter, encoding=encoding)
    counts = service.import_rows(db_session=db, principal=principal, parsed=parsed)
    audit.record(db_session=db, principal=principal,
                 action="import", entity_type="prospect",
                 changes={**counts, "failed": len(parsed.errors), "file": file.filename})
    return ImportResult(total_rows=parsed.total_rows, failed=len({e["row"] for e in parsed.errors}),
                        errors=parsed.errors, **counts)


@router.get("/export", summary="Export the filtered prospects as CSV",
            responses={200: {"content": {"text/csv": {}}}})
def export_prospects(db: DbSession, principal: Reader, filters: Filters):
    rows = service.export_rows(db_session=db, filters=filters, sort=filters.sort)
    return StreamingResponse(
        csv_io.export_rows(rows), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="prospects.csv"'},
    )


@router.post("/bulk", response_model=BulkResult, summary="Assign, re-status or delete many prospects at once",
             description="All or nothing: every id must be a prospect you can see, or nothing changes (404 with "
                         "the missing ids). Each changed prospect publishes its own `prospect.updated` event.")
def bulk_action(body: BulkAction, db: DbSession, principal: Writer) -> BulkResult:
    if body.action == "set_status" and body.status is None:
        raise ValidationFailed("set_status needs a status", details={"field": "status"})
    if body.action == "assign_owner" and "owner_id" not in body.model_fields_set:
        raise ValidationFailed("assign_owner needs ownerId (null to unassign)", details={"field": "ownerId"})
    counts = service.bulk(db_session=db, principal=principal, action=body.action, prospect_ids=body.prospect_ids,
                          owner_id=body.owner_id, status=body.status)
    audit.record(db_session=db, principal=principal, action=f"bulk_{body.action}", entity_type="prospect",
                 changes={**counts, "ownerId": str(body.owner_id) if body.owner_id else None,
                          "status": body.status, "ids": [str(i) for i in body.prospect_ids[:50]]})
    return BulkResult(action=body.action, **counts)


def _view_out(view: SavedView, principal: Principal) -> SavedViewOut:
    out = SavedViewOut.model_validate(view)
    out.mine = view.user_id == principal.user_id
    return out


@router.get("/views", response_model=Page[SavedViewOut], summary="Saved views: mine and those shared with me")
def list_views(db: DbSession, principal: Reader, pagination: Pagination):
    items, meta = paginate(db, service.views_of(principal=principal), pagination)
    return page_of([_view_out(v, principal) for v in items], meta)


@router.post("/views", response_model=SavedViewOut, status_code=201, summary="Save the list's filters as a view")
def create_view(body: SavedViewCreate, db: DbSession, principal: Reader) -> SavedViewOut:
    view = service.create_view(db_session=db, principal=principal, name=body.name, shared=body.shared,
                               filters=body.filters.model_dump(by_alias=True, exclude_none=True, mode="json"))
    return _view_out(view, principal)


@router.get("/views/{view_id}", response_model=SavedViewOut, summary="A saved view")
def get_view(view_id: uuid.UUID, db: DbSession, principal: Reader) -> SavedViewOut:
    return _view_out(service.get_view(db_session=db, principal=principal, view_id=view_id), principal)


@router.put("/views/{view_id}", response_model=SavedViewOut, summary="Rename, re-filter or share a view")
def update_view(view_id: uuid.UUID, body: SavedViewUpdate, db: DbSession, principal: Reader) -> SavedViewOut:
    view = service.get_view(db_session=db, principal=principal, view_id=view_id, to_change=True)
    filters = body.filters.model_dump(by_alias=True, exclude_none=True, mode="json") if body.filters else None
    service.update_view(db_session=db, principal=principal, view=view, name=body.name, filters=filters,
                        shared=body.shared)
    return _view_out(view, principal)


@router.delete("/views/{view_id}", status_code=204, summary="Delete a view (its author or an admin)")
def delete_view(view_id: uuid.UUID, db: DbSession, principal: Reader) -> None:
    view = service.get_view(db_session=db, principal=principal, view_id=view_id, to_change=True)
    service.delete_view(db_session=db, view=view)


@router.get("/{prospect_id}", response_model=ProspectOut, summary="Get a prospect")
async def get_prospect(prospect_id: uuid.UUID, request: Request) -> Response:
    # The hottest read: authentication, tenant binding and the row in one round trip on the event loop, no ORM
    # and no second validation of the response model (serving/core/fast_read.py).
    _principal, row = await fast_read.read_row(request, scope=Scope.prospects_read, sql=service.ROW_BY_ID_SQL,
                                               params=(prospect_id,))
    if row is None:
        raise NotFound("prospect", prospect_id)
    return fast_read.json_response(ProspectOut, row)


@router.put("/{prospect_id}", response_model=ProspectOut, summary="Update a prospect (fields sent are changed)")
def update_prospect(prospect_id: uuid.UUID, body: ProspectUpdate, db: DbSession, principal: Writer):
    prospect = _get_or_404(db, prospect_id)
    changes = service.update(db_session=db, prospect=prospect, data=body, principal=principal)
    if changes:
        audit.record(db_session=db, principal=principal,
                     action="update", entity_type="prospect", entity_id=prospect.id, changes=changes)
    return ProspectOut.model_validate(prospect)


@router.delete("/{prospect_id}", status_code=204, summary="Delete a prospect and its timeline")
def delete_prospect(prospect_id: uuid.UUID, db: DbSession, principal: Writer) -> None:
    prospect = _get_or_404(db, prospect_id)
    service.delete(db_session=db, prospect=prospect)
    audit.record(db_session=db, principal=principal,
                 action="delete", entity_type="prospect", entity_id=prospect_id,
                 changes={"email": prospect.email})


@account_contacts_router.get("/{account_id}/contacts", response_model=Page[ProspectOut],
                             summary="The account's prospects", dependencies=[require(Scope.accounts_read)])
def account_contacts(account_id: uuid.UUID, db: DbSession, principal: Reader, pagination: Pagination,
                     sort: Sort = None):
    if accounts_service.get(db_session=db, account_id=account_id) is None:
        raise NotFound("account", account_id)
    stmt = service.filtered(ProspectFilters(account_id=account_id), sort)
    items, meta = paginate(db, stmt, pagination)
    return page_of([ProspectOut.model_validate(p) for p in items], meta)

"""/activities (timeline entries: list, filter, manual logging) and /calls (call quick-log)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import field_validator

from serving.accounts import service as accounts_service
from serving.activities import service
from serving.activities.schemas import (
    ActivityCreate,
    ActivityFilters,
    ActivityOut,
    CallCreate,
    CallFilters,
    CallOut,
)
from serving.audit import service as audit
from serving.core.deps import DbSession, require
from serving.core.errors import NotFound
from serving.core.idempotency import IdempotencyDep
from serving.core.pagination import Page, Pagination, page_of, paginate
from serving.core.permissions import Scope
from serving.core.principal import Principal
from serving.deals import service as deals_service
from serving.prospects import service as prospects_service

router = APIRouter()
calls_router = APIRouter()
# Mounted at the API root: the timelines of prospects, accounts and deals (the timeline reads them, not the
# other way round).
timelines_router = APIRouter()

Reader = Annotated[Principal, require(Scope.activities_read)]
Writer = Annotated[Principal, require(Scope.activities_write)]
# A prospect's timeline has always needed only prospects:read.
ProspectReader = Annotated[Principal, require(Scope.prospects_read)]


def _split(value):
    if isinstance(value, list):
        return [part.strip() for item in value for part in str(item).split(",") if part.strip()]
    return value


class ActivityQuery(ActivityFilters):
    sort: str | None = None

    _split_types = field_validator("type", mode="before")(_split)


class CallQuery(CallFilters):
    sort: str | None = None

    _split_dispositions = field_validator("disposition", mode="before")(_split)


# -- activities ----------------------------------------------------------------------------------

@router.get("", response_model=Page[ActivityOut], summary="List and filter activities, newest first")
def list_activities(db: DbSession, principal: Reader, pagination: Pagination,
                    filters: Annotated[ActivityQuery, Query()]):
    items, meta = paginate(db, service.filtered(filters, filters.sort), pagination)
    return page_of([ActivityOut.model_validate(a) for a in items], meta)


@router.post("", response_model=ActivityOut, status_code=201,
             summary="Log an activity by hand (note, meeting, LinkedIn touch, …)")
def create_activity(body: ActivityCreate, db: DbSession, principal: Writer, idem: IdempotencyDep):
    def create() -> ActivityOut:
        activity = service.create(db_session=db, principal=principal, data=body)
        audit.record(db_session=db, principal=principal,
                     action="create", entity_type="activity", entity_id=activity.id,
                     changes={"type": activity.type})
        return ActivityOut.model_validate(activity)

    return idem.run(create, payload=body)


@router.get("/{activity_id}", response_model=ActivityOut, summary="Get an activity")
def get_activity(activity_id: uuid.UUID, db: DbSession, principal: Reader):
    activity = service.get(db_session=db, activity_id=activity_id)
    if activity is None:
        raise NotFound("activity", activity_id)
    return ActivityOut.model_validate(activity)


# -- calls ---------------------------------------------------------------------------------------

@calls_router.get("", response_model=Page[CallOut], summary="List and filter logged calls, newest first")
def list_calls(db: DbSession, principal: Reader, pagination: Pagination, filters: Annotated[CallQuery, Query()]):
    items, meta = paginate(db, service.filtered_calls(filters, filters.sort), pagination)
    return page_of([CallOut.model_validate(c) for c in items], meta)


@calls_router.post("", response_model=CallOut, status_code=201,
                   summary="Quick-log a call: the call, its timeline entry and the prospect's last contact")
def log_call(body: CallCreate, db: DbSession, principal: Writer, idem: IdempotencyDep):
    def create() -> CallOut:
        call = service.log_call(db_session=db, principal=principal, data=body)
        audit.record(db_session=db, principal=principal,
                     action="create", entity_type="call_log", entity_id=call.id,
                     changes={"prospectId": call.prospect_id, "disposition": call.disposition})
        return CallOut.model_validate(call)

    return idem.run(create, payload=body)


@calls_router.get("/{call_id}", response_model=CallOut, summary="Get a logged call")
def get_call(call_id: uuid.UUID, db: DbSession, principal: Reader):
    call = service.get_call(db_session=db, call_id=call_id)
    if call is None:
        raise NotFound("call", call_id)
    return CallOut.model_validate(call)


# -- timelines -------------------------------------------------------------------------------------

def _exists_or_404(found: object | None, kind: str, entity_id: uuid.UUID) -> None:
    if found is None:
        raise NotFound(kind, entity_id)


@timelines_router.get("/prospects/{prospect_id}/activities", response_model=Page[ActivityOut],
                      summary="The prospect's timeline", tags=["prospects"])
def prospect_activities(prospect_id: uuid.UUID, db: DbSession, principal: ProspectReader, pagination: Pagination):
    _exists_or_404(prospects_service.get(db_session=db, prospect_id=prospect_id), "prospect", prospect_id)
    items, meta = paginate(db, service.timeline(prospect_id=prospect_id), pagination)
    return page_of([ActivityOut.model_validate(a) for a in items], meta)


@timelines_router.get("/accounts/{account_id}/activities", response_model=Page[ActivityOut],
                      summary="The account's timeline, including its prospects' and deals' activities",
                      tags=["accounts"], dependencies=[require(Scope.accounts_read)])
def account_activities(account_id: uuid.UUID, db: DbSession, principal: Reader, pagination: Pagination):
    _exists_or_404(accounts_service.get(db_session=db, account_id=account_id), "account", account_id)
    items, meta = paginate(db, service.timeline(account_id=account_id), pagination)
    return page_of([ActivityOut.model_validate(a) for a in items], meta)


@timelines_router.get("/deals/{deal_id}/activities", response_model=Page[ActivityOut],
                      summary="The deal's timeline", tags=["deals"], dependencies=[require(Scope.deals_read)])
def deal_activities(deal_id: uuid.UUID, db: DbSession, principal: Reader, pagination: Pagination):
    _exists_or_404(deals_service.get(db_session=db, deal_id=deal_id), "deal", deal_id)
    items, meta = paginate(db, service.timeline(deal_id=deal_id), pagination)
    return page_of([ActivityOut.model_validate(a) for a in items], meta)

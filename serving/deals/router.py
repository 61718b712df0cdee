"""/deals: CRUD with pipeline rules, filters, contacts, health and the deal's timeline."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import field_validator

from serving.accounts import service as accounts_service
from serving.audit import service as audit
from serving.core.deps import DbSession, require
from serving.core.errors import NotFound
from serving.core.idempotency import IdempotencyDep
from serving.core.pagination import Page, Pagination, page_of, paginate
from serving.core.permissions import Scope
from serving.core.principal import Principal
from serving.deals import service
from serving.deals.models import Deal
from serving.deals.schemas import (
    DealContactCreate,
    DealContactOut,
    DealCreate,
    DealFilters,
    DealOut,
    DealUpdate,
    ProspectSummary,
)

router = APIRouter()
# Mounted under /accounts: an account's deals.
account_deals_router = APIRouter()

Sort = Annotated[str | None, Query(description="comma-separated camelCase fields, '-' for descending")]
Reader = Annotated[Principal, require(Scope.deals_read)]
Writer = Annotated[Principal, require(Scope.deals_write)]


class DealQuery(DealFilters):
    sort: str | None = None

    @field_validator("stage", "forecast_category", mode="before")
    @classmethod
    def _split(cls, value):
        if isinstance(value, list):
            return [part.strip() for item in value for part in str(item).split(",") if part.strip()]
        return value


Filters = Annotated[DealQuery, Query()]


def _get_or_404(db, deal_id: uuid.UUID) -> Deal:
    deal = service.get(db_session=db, deal_id=deal_id)
    if deal is None:
        raise NotFound("deal", deal_id)
    return deal


def _contacts_out(db, contacts) -> list[DealContactOut]:
    prospects = service.prospects_by_id(db_session=db, prospect_ids=[c.prospect_id for c in contacts])
    return [
        DealContactOut.model_validate(c).model_copy(
            update={"prospect": ProspectSummary.model_validate(prospects[c.prospect_id])
                    if c.prospect_id in prospects else None}
        )
        for c in contacts
    ]


@router.get("", response_model=Page[DealOut], summary="List deals with filters, sort and pages")
def list_deals(db: DbSession, principal: Reader, pagination: Pagination, filters: Filters):
    items, meta = paginate(db, service.filtered(filters, filters.sort), pagination)
    return page_of([DealOut.model_validate(d) for d in items], meta)


@router.post("", response_model=DealOut, status_code=201, summary="Create a deal")
def create_deal(body: DealCreate, db: DbSession, principal: Writer, idem: IdempotencyDep):
    def create() -> DealOut:
        deal = service.create(db_session=db, principal=principal, data=body)
        audit.record(db_session=db, principal=principal,
                     action="create", entity_type="deal", entity_id=deal.id)
        return DealOut.model_validate(deal)

    return idem.run(create, payload=body)


@router.get("/{deal_id}", response_model=DealOut, summary="Get a deal")
def get_deal(deal_id: uuid.UUID, db: DbSession, principal: Reader):
    return DealOut.model_validate(_get_or_404(db, deal_id))


@router.put("/{deal_id}", response_model=DealOut, summary="Update a deal (fields sent are changed)")
def update_deal(deal_id: uuid.UUID, body: DealUpdate, db: DbSession, principal: Writer):
    deal = _get_or_404(db, deal_id)
    changes = service.update(db_session=db, principal=principal, deal=deal, data=body)
    if changes:
        audit.record(db_session=db, principal=principal,
                     action="update", entity_type="deal", entity_id=deal.id, changes=changes)
    return DealOut.model_validate(deal)


@router.delete("/{deal_id}", status_code=204, summary="Delete a deal and its own timeline entries")
def delete_deal(deal_id: uuid.UUID, db: DbSession, principal: Writer) -> None:
    deal = _get_or_404(db, deal_id)
    service.delete(db_session=db, deal=deal)
    audit.record(db_session=db, principal=principal,
                 action="delete", entity_type="deal", entity_id=deal_id, changes={"name": deal.name})


@router.get("/{deal_id}/contacts", response_model=Page[DealContactOut], summary="The deal's contacts",
            dependencies=[require(Scope.prospects_read)])
def list_deal_contacts(deal_id: uuid.UUID, db: DbSession, principal: Reader, pagination: Pagination):
    _get_or_404(db, deal_id)
    items, meta = paginate(db, service.contacts(deal_id=deal_id), pagination)
    return page_of(_contacts_out(db, items), meta)


@router.post("/{deal_id}/contacts", response_model=DealContactOut, status_code=201,
             summary="Add a prospect to the deal, with a buying role")
def add_deal_contact(deal_id: uuid.UUID, body: DealContactCreate, db: DbSession, principal: Writer,
                     idem: IdempotencyDep):
    deal = _get_or_404(db, deal_id)

    def create() -> DealContactOut:
        contact = service.add_contact(db_session=db, deal=deal, data=body)
        audit.record(db_session=db, principal=principal,
                     action="create", entity_type="deal_contact", entity_id=contact.id,
                     changes={"dealId": deal.id, "prospectId": body.prospect_id, "role": body.role})
        return _contacts_out(db, [contact])[0]

    return idem.run(create, payload=body)


@router.delete("/{deal_id}/contacts/{prospect_id}", status_code=204, summary="Remove a contact from the deal")
def remove_deal_contact(deal_id: uuid.UUID, prospect_id: uuid.UUID, db: DbSession, principal: Writer) -> None:
    _get_or_404(db, deal_id)
    contact = service.get_contact(db_session=db, deal_id=deal_id, prospect_id=prospect_id)
    if contact is None:
        raise NotFound("deal contact", prospect_id)
    service.remove_contact(db_session=db, contact=contact)
    audit.record(db_session=db, principal=principal,
                 action="delete", entity_type="deal_contact", entity_id=contact.id,
                 changes={"dealId": deal_id, "prospectId": prospect_id})


@account_deals_router.get("/{account_id}/deals", response_model=Page[DealOut], summary="The account's deals",
                          dependencies=[require(Scope.accounts_read)])
def account_deals(account_id: uuid.UUID, db: DbSession, principal: Reader, pagination: Pagination,
                  sort: Sort = None):
    if accounts_service.get(db_session=db, account_id=account_id) is None:
        raise NotFound("account", account_id)
    items, meta = paginate(db, service.filtered(DealFilters(account_id=account_id), sort), pagination)
    return page_of([DealOut.model_validate(d) for d in items], meta)

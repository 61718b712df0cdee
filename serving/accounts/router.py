"""/accounts: CRUD, filters and the parent/child hierarchy.

The account's contacts, deals and timeline are served by the prospects, deals and activities routers, which sit
above accounts in the layer order (they read accounts; accounts read none of them).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import field_validator

from serving.accounts import service
from serving.accounts.models import Account
from serving.accounts.schemas import (
    AccountCreate,
    AccountFilters,
    AccountHierarchy,
    AccountNode,
    AccountOut,
    AccountSummary,
    AccountUpdate,
)
from serving.audit import service as audit
from serving.core.deps import DbSession, require
from serving.core.errors import NotFound
from serving.core.idempotency import IdempotencyDep
from serving.core.pagination import Page, Pagination, page_of, paginate
from serving.core.permissions import Scope
from serving.core.principal import Principal

router = APIRouter()

Reader = Annotated[Principal, require(Scope.accounts_read)]
Writer = Annotated[Principal, require(Scope.accounts_write)]
Sort = Annotated[str | None, Query(description="comma-separated camelCase fields, '-' for descending")]


class AccountQuery(AccountFilters):
    sort: str | None = None

    @field_validator("industry", mode="before")
    @classmethod
    def _split(cls, value):
        if isinstance(value, list):
            return [part.strip() for item in value for part in str(item).split(",") if part.strip()]
        return value


Filters = Annotated[AccountQuery, Query()]


def _get_or_404(db, account_id: uuid.UUID) -> Account:
    account = service.get(db_session=db, account_id=account_id)
    if account is None:
        raise NotFound("account", account_id)
    return account


@router.get("", response_model=Page[AccountOut], summary="List accounts with filters, sort and pages")
def list_accounts(db: DbSession, principal: Reader, pagination: Pagination, filters: Filters):
    items, meta = paginate(db, service.filtered(filters, filters.sort), pagination)
    return page_of([AccountOut.model_validate(a) for a in items], meta)


@router.post("", response_model=AccountOut, status_code=201, summary="Create an account")
def create_account(body: AccountCreate, db: DbSession, principal: Writer, idem: IdempotencyDep):
    def create() -> AccountOut:
        account = service.create(db_session=db, principal=principal, data=body)
        audit.record(db_session=db, principal=principal,
                     action="create", entity_type="account", entity_id=account.id)
        return AccountOut.model_validate(account)

    return idem.run(create, payload=body)


@router.get("/{account_id}", response_model=AccountOut, summary="Get an account")
def get_account(account_id: uuid.UUID, db: DbSession, principal: Reader):
    return AccountOut.model_validate(_get_or_404(db, account_id))


@router.put("/{account_id}", response_model=AccountOut, summary="Update an account (fields sent are changed)")
def update_account(account_id: uuid.UUID, body: AccountUpdate, db: DbSession, principal: Writer):
    account = _get_or_404(db, account_id)
    changes = service.update(db_session=db, account=account, data=body)
    if changes:
        audit.record(db_session=db, principal=principal,
                     action="update", entity_type="account", entity_id=account.id, changes=changes)
    return AccountOut.model_validate(account)


@router.delete("/{account_id}", status_code=204,
               summary="Delete an account; its children move up to its parent")
def delete_account(account_id: uuid.UUID, db: DbSession, principal: Writer) -> None:
    account = _get_or_404(db, account_id)
    moved = service.delete(db_session=db, account=account)
    audit.record(db_session=db, principal=principal,
                 action="delete", entity_type="account", entity_id=account_id,
                 changes={"name": account.name, "domain": account.domain, "childrenMovedTo":
                          account.parent_account_id, "children": moved})


@router.get("/{account_id}/children", response_model=Page[AccountOut], summary="Direct child accounts")
def account_children(account_id: uuid.UUID, db: DbSession, principal: Reader, pagination: Pagination,
                     sort: Sort = None):
    _get_or_404(db, account_id)
    items, meta = paginate(db, service.children(account_id=account_id, sort=sort), pagination)
    return page_of([AccountOut.model_validate(a) for a in items], meta)


@router.get("/{account_id}/hierarchy", response_model=AccountHierarchy,
            summary="The path from the top-level account, and the tree below this one")
def account_hierarchy(account_id: uuid.UUID, db: DbSession, principal: Reader):
    account = _get_or_404(db, account_id)
    above = service.ancestors(db_session=db, account_id=account.id)
    below, truncated = service.descendants(db_session=db, account_id=account.id)
    nodes = {a.id: AccountNode(**AccountSummary.model_validate(a).model_dump(), depth=depth) for a, depth in below}
    roots = []
    for node in nodes.values():  # breadth-first order, so a parent is always placed before its children
        parent = nodes.get(node.parent_account_id)
        (parent.children if parent is not None else roots).append(node)
    return AccountHierarchy(
        account=AccountSummary.model_validate(account),
        ancestors=[AccountSummary.model_validate(a) for a in reversed(above)],
        descendants=[n for n in roots if n.parent_account_id == account.id],
        descendant_count=len(nodes),
        truncated=truncated,
    )

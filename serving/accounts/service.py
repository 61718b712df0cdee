"""Account business rules: unique domains, a cycle-free parent/child hierarchy, and deletion."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, cast, func, literal_column, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session, aliased

from serving.accounts.models import Account, CompanyProfile
from serving.accounts.schemas import AccountCreate, AccountFilters, AccountUpdate
from serving.core.clock import utcnow
from serving.core.errors import Conflict, ValidationFailed
from serving.core.listing import apply_sort, check_range, contains_any
from serving.core.principal import Principal
from serving.core.references import require_visible
from serving.organizations.models import Team
from serving.users.models import User

SORTABLE = {
    "name": Account.name,
    "domain": Account.domain,
    "createdAt": Account.created_at,
    "updatedAt": Account.updated_at,
    "employeeCount": Account.employee_count,
    "annualRevenue": Account.annual_revenue,
    "healthScore": Account.health_score,
    "intentScore": Account.intent_score,
}
# Bounds on hierarchy walks: real hierarchies are a few levels deep; the limits only stop a
# cycle written outside the API (imports, pipelines) from running away.
MAX_DEPTH = 50
MAX_TREE_NODES = 1000
_HIERARCHY_LOCK = 0x61636374  # "acct": namespaces the advisory lock among other per-org locks


def get(*, db_session: Session, account_id: uuid.UUID) -> Account | None:
    return db_session.get(Account, account_id)


def get_by_domain(*, db_session: Session, domain: str) -> Account | None:
    return db_session.scalar(select(Account).where(Account.domain == domain))


MAX_BUYING_SIGNALS = 200  # per company profile, newest first: the evidence a rep reads, not an archive


def company_profile(*, db_session: Session, company_profile_id: uuid.UUID) -> CompanyProfile | None:
    return db_session.get(CompanyProfile, company_profile_id)


def company_profile_domain(*, db_session: Session, company_profile_id: uuid.UUID) -> str | None:
    """The domain a company's intent is keyed on: the profile's own, else its account's."""
    row = db_session.execute(select(CompanyProfile.domain, Account.domain)
                             .outerjoin(Account, Account.id == CompanyProfile.account_id)
                             .where(CompanyProfile.id == company_profile_id)).first()
    return (row[0] or row[1]) if row else None


def add_buying_signals(*, db_session: Session, company_profile_id: uuid.UUID, signals: list[dict[str, Any]]
                       ) -> list[dict[str, Any]]:
    """Prepend the signals the profile does not hold yet (same kind, url and sentence) to `buying_signals`;
    returns the new ones. The row is locked so two research jobs cannot drop each other's signals."""
    profile = db_session.scalar(select(CompanyProfile).where(CompanyProfile.id == company_profile_id)
                                .with_for_update())
    if profile is None:
        return []
    held = {(s.get("kind"), s.get("url"), s.get("sentence")) for s in profile.buying_signals or []}
    new = []
    for signal in signals:
        key = (signal.get("kind"), signal.get("url"), signal.get("sentence"))
        if key not in held:
            held.add(key)
            new.append(signal)
    if new:
        profile.buying_signals = [*new, *(profile.buying_signals or [])][:MAX_BUYING_SIGNALS]
        profile.last_researched_at = utcnow()
    return new


def set_research_quality(*, db_session: Session, company_profile_id: uuid.UUID, score: int | None) -> None:
    db_session.execute(sql_update(CompanyProfile).where(CompanyProfile.id == company_profile_id)
                       .values(research_quality_score=score, last_researched_at=utcnow()))


def _check_references(db_session: Session, data: AccountCreate | AccountUpdate) -> None:
    require_visible(db_session, User, data.owner_id, "ownerId")
    require_visible(db_session, Team, data.team_id, "teamId")
    require_visible(db_session, Account, data.parent_account_id, "parentAccountId")


def _refuse_duplicate_domain(db_session: Session, domain: str | None, account_id: uuid.UUID | None) -> None:
    if domain is None:
        return
    existing = get_by_domain(db_session=db_session, domain=domain)
    if existing is not None and existing.id != account_id:
        raise Conflict("an account with this domain already exists", code="DUPLICATE_DOMAIN",
                       details={"field": "domain", "value": domain, "accountId": str(existing.id)})


def create(*, db_session: Session, principal: Principal, data: AccountCreate) -> Account:
    _check_references(db_session, data)
    _refuse_duplicate_domain(db_session, data.domain, None)
    values = data.model_dump(exclude_none=True)
    values.setdefault("owner_id", principal.user_id)
    values.setdefault("team_id", principal.team_id)
    account = Account(organization_id=principal.organization_id, **values)
    db_session.add(account)
    db_session.flush()
    return account


def update(*, db_session: Session, account: Account, data: AccountUpdate) -> dict[str, Any]:
    """Apply the fields the client sent (null clears optional ones); returns what changed."""
    _check_references(db_session, data)
    values = data.model_dump(exclude_unset=True)
    if "domain" in values:
        _refuse_duplicate_domain(db_session, values["domain"], account.id)
    new_parent = values.get("parent_account_id")
    if new_parent is not None and new_parent != account.parent_account_id:
        _refuse_cycle(db_session, account, new_parent)
    changes = {}
    for key, value in values.items():
        if getattr(account, key) != value:
            changes[key] = {"from": getattr(account, key), "to": value}
            setattr(account, key, value)
    db_session.flush()
    return changes


def _refuse_cycle(db_session: Session, account: Account, parent_id: uuid.UUID) -> None:
    """An account cannot sit under itself or under one of its own descendants."""
    # Serialise hierarchy changes per organization: two concurrent moves (A under B, B under A)
    # would each pass the check against the other's old state.
    db_session.execute(select(func.pg_advisory_xact_lock(
        cast(_HIERARCHY_LOCK, Integer), func.hashtext(str(account.organization_id))
    )))
    if parent_id == account.id:
        raise ValidationFailed("an account cannot be its own parent",
                               details={"field": "parentAccountId", "value": str(parent_id)})
    chain = [row.id for row in ancestors(db_session=db_session, account_id=parent_id, include_self=True)]
    if account.id in chain:
        raise ValidationFailed(
            "parentAccountId would create a cycle: that account is a descendant of this one",
            details={"field": "parentAccountId", "value": str(parent_id),
                     "path": [str(i) for i in reversed(chain[: chain.index(account.id) + 1])]},
        )


def delete(*, db_session: Session, account: Account) -> list[uuid.UUID]:
    """Delete the account; returns the children moved up to its parent.

    Children move up one level, so the rest of the tree stays connected. Activities cascade with
    the account; those that also belong to a prospect or deal are detached by the `app.accounts` delete
    trigger (migration 0009) and stay on those timelines.
    """
    moved = list(db_session.scalars(
        sql_update(Account).where(Account.parent_account_id == account.id)
        .values(parent_account_id=account.parent_account_id).returning(Account.id)
        .execution_options(synchronize_session=False)
    ))
    db_session.delete(account)
    db_session.flush()
    return moved


def filtered(filters: AccountFilters, sort: str | None) -> Select:
    stmt = select(Account)
    check_range("employeeCount", filters.min_employee_count, filters.max_employee_count)
    check_range("annualRevenue", filters.min_annual_revenue, filters.max_annual_revenue)
    if filters.industry:
        # Industry is free text; match it regardless of case so "SaaS" finds "saas".
        stmt = stmt.where(func.lower(Account.industry).in_([value.lower() for value in filters.industry]))
    if filters.owner_id:
        stmt = stmt.where(Account.owner_id == filters.owner_id)
    if filters.team_id:
        stmt = stmt.where(Account.team_id == filters.team_id)
    if filters.parent_account_id:
        stmt = stmt.where(Account.parent_account_id == filters.parent_account_id)
    if filters.q:
        stmt = stmt.where(contains_any(filters.q, Account.name, Account.domain))
    for column, low, high in (
        (Account.employee_count, filters.min_employee_count, filters.max_employee_count),
        (Account.annual_revenue, filters.min_annual_revenue, filters.max_annual_revenue),
    ):
        if low is not None:
            stmt = stmt.where(column >= low)
        if high is not None:
            stmt = stmt.where(column <= high)
    return apply_sort(stmt, sort, SORTABLE, default="-createdAt", tiebreak=Account.id)


# -- hierarchy -----------------------------------------------------------------------------------

def children(*, account_id: uuid.UUID, sort: str | None = None) -> Select:
    stmt = select(Account).where(Account.parent_account_id == account_id)
    return apply_sort(stmt, sort, SORTABLE, default="name", tiebreak=Account.id)


def ancestors(*, db_session: Session, account_id: uuid.UUID, include_self: bool = False) -> list[Account]:
    """The chain above an account, nearest first (recursive CTE up the parent links)."""
    chain = (
        select(Account.id, Account.parent_account_id, literal_column("0").label("depth"))
        .where(Account.id == account_id)
        .cte("ancestors", recursive=True)
    )
    parent = aliased(Account)
    chain = chain.union_all(
        select(parent.id, parent.parent_account_id, (chain.c.depth + 1).label("depth"))
        .where(parent.id == chain.c.parent_account_id, chain.c.depth < MAX_DEPTH)
    )
    rows = db_session.execute(
        select(Account, func.min(chain.c.depth).label("depth"))
        .join(chain, chain.c.id == Account.id)
        .group_by(Account.id)
        .order_by(func.min(chain.c.depth))
    ).all()
    return [account for account, depth in rows if include_self or depth > 0]


def descendants(*, db_session: Session, account_id: uuid.UUID,
                limit: int = MAX_TREE_NODES) -> tuple[list[tuple[Account, int]], bool]:
    """Everything below an account with its depth (1 = child), breadth first; and whether it was cut."""
    tree = (
        select(Account.id, literal_column("1").label("depth"))
        .where(Account.parent_account_id == account_id)
        .cte("descendants", recursive=True)
    )
    child = aliased(Account)
    tree = tree.union_all(
        select(child.id, (tree.c.depth + 1).label("depth"))
        .where(child.parent_account_id == tree.c.id, tree.c.depth < MAX_DEPTH)
    )
    # A node reached twice (only possible through a cycle) keeps its shallowest depth.
    rows = db_session.execute(
        select(Account, func.min(tree.c.depth).label("depth"))
        .join(tree, tree.c.id == Account.id)
        .where(Account.id != account_id)
        .group_by(Account.id)
        .order_by(func.min(tree.c.depth), Account.name, Account.id)
        .limit(limit + 1)
    ).all()
    return [(account, depth) for account, depth in rows[:limit]], len(rows) > limit


def changed_since(*, db_session: Session, since: datetime | None, limit: int) -> list[Account]:
    """The accounts edited after `since` (all when None), oldest edit first: what an outbound sync pushes."""
    query = select(Account).order_by(Account.updated_at, Account.id).limit(limit)
    if since is not None:
        query = query.where(Account.updated_at > since)
    return list(db_session.scalars(query))

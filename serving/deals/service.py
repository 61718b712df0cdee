"""Deal business rules: pipeline position (stage, probability, forecast), stage history, contacts, health."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from serving.accounts.models import Account
from serving.core import outbox
from serving.core.errors import Conflict, ValidationFailed
from serving.core.event_catalogue import DealClosed, DealCreated, DealStageChanged
from serving.core.listing import apply_sort, check_range, contains_any
from serving.core.principal import Principal
from serving.core.references import require_visible
from serving.deals.models import CLOSED_STAGES, Deal, DealContact, DealStage, ForecastCategory
from serving.deals.rules import UNSET, PipelinePosition, resolve_position
from serving.deals.schemas import NEXT_STEP_KEY, DealContactCreate, DealCreate, DealFilters, DealUpdate
from serving.organizations.models import Team
from serving.prospects.models import Prospect
from serving.users.models import User

SORTABLE = {
    "amount": Deal.amount,
    "closeDate": Deal.close_date,
    "createdAt": Deal.created_at,
    "updatedAt": Deal.updated_at,
    "probability": Deal.probability,
    "name": Deal.name,
    "stageChangedAt": Deal.stage_changed_at,
}


def get(*, db_session: Session, deal_id: uuid.UUID) -> Deal | None:
    return db_session.get(Deal, deal_id)


def _check_references(db_session: Session, data: DealCreate | DealUpdate) -> None:
    require_visible(db_session, Account, data.account_id, "accountId")
    require_visible(db_session, User, data.owner_id, "ownerId")
    require_visible(db_session, Team, data.team_id, "teamId")


def _with_next_step(metadata: dict[str, Any], next_step: str | None) -> dict[str, Any]:
    # The next step lives in `metadata` (no column of its own); a blank one removes it.
    merged = dict(metadata)
    if next_step:
        merged[NEXT_STEP_KEY] = next_step
    else:
        merged.pop(NEXT_STEP_KEY, None)
    return merged


def create(*, db_session: Session, principal: Principal, data: DealCreate) -> Deal:
    _check_references(db_session, data)
    sent = data.model_dump(exclude_unset=True)
    stage = data.stage or DealStage.discovery
    position = resolve_position(
        stage=stage, probability=sent.get("probability", UNSET), forecast_category=sent.get("forecast_category", UNSET)
    )
    metadata = data.metadata or {}
    if "next_step" in sent:
        metadata = _with_next_step(metadata, data.next_step)
    now = datetime.now(UTC)
    values = data.model_dump(exclude_none=True,
                             exclude={"stage", "probability", "forecast_category", "next_step", "metadata"})
    values.setdefault("owner_id", principal.user_id)
    values.setdefault("team_id", principal.team_id)
    deal = Deal(
        organization_id=principal.organization_id, **values, stage=stage, probability=position.probability,
        forecast_category=position.forecast_category, forecast_category_manual=position.forecast_category_manual,
        metadata_=metadata, stage_changed_at=now, closed_at=now if stage in CLOSED_STAGES else None,
    )
    db_session.add(deal)
    db_session.flush()
    outbox.publish(
        db_session, organization_id=deal.organization_id, type="deal.created", subject_id=deal.id,
        actor_user_id=principal.user_id,
        payload=DealCreated(deal_id=deal.id, name=deal.name, stage=deal.stage, amount=_amount(deal),
                            currency=deal.currency, owner_id=deal.owner_id, account_id=deal.account_id),
    )
    if deal.stage in CLOSED_STAGES:
        _publish_closed(db_session, deal, actor_user_id=principal.user_id)
    return deal


def _amount(deal: Deal) -> float | None:
    return float(deal.amount) if deal.amount is not None else None


def _publish_closed(db_session: Session, deal: Deal, *, actor_user_id: uuid.UUID | None) -> None:
    outbox.publish(
        db_session, organization_id=deal.organization_id,
        type="deal.won" if deal.stage == DealStage.closed_won else "deal.lost", subject_id=deal.id,
        actor_user_id=actor_user_id,
        payload=DealClosed(deal_id=deal.id, stage=deal.stage, amount=_amount(deal), closed_at=deal.closed_at,
                           reason=deal.lost_reason, account_id=deal.account_id),
    )


def update(*, db_session: Session, principal: Principal, deal: Deal, data: DealUpdate) -> dict[str, Any]:
    """Apply the fields the client sent; returns what changed. A stage change is put on the timeline."""
    _check_references(db_session, data)
    sent = data.model_dump(exclude_unset=True)
    old_stage = deal.stage
    new_stage = DealStage(sent.get("stage", old_stage)).value
    if "stage" in sent:
        sent["stage"] = new_stage
    stage_changed = new_stage != old_stage
    position = resolve_position(
        stage=new_stage, probability=sent.pop("probability", UNSET),
        forecast_category=sent.pop("forecast_category", UNSET),
        current=PipelinePosition(deal.probability, ForecastCategory(deal.forecast_category),
                                 deal.forecast_category_manual),
        stage_changed=stage_changed,
    )
    if "metadata" in sent or "next_step" in sent:
        # `metadata` replaces the stored one, but keeps the next step unless it says otherwise.
        current = deal.metadata_ or {}
        metadata = dict(sent.pop("metadata", current))
        next_step = sent.pop("next_step", metadata.get(NEXT_STEP_KEY, current.get(NEXT_STEP_KEY)))
        sent["metadata_"] = _with_next_step(metadata, next_step)
    sent.update(probability=position.probability, forecast_category=position.forecast_category.value,
                forecast_category_manual=position.forecast_category_manual)

    changes = {}
    for key, value in sent.items():
        if getattr(deal, key) != value:
            changes[key.rstrip("_")] = {"from": getattr(deal, key), "to": value}
            setattr(deal, key, value)
    if stage_changed:
        now = datetime.now(UTC)
        deal.stage_changed_at = now
        deal.closed_at = now if new_stage in CLOSED_STAGES else None
        # The timeline entry, notifications and webhooks are subscribers of these events.
        outbox.publish(
            db_session, organization_id=deal.organization_id, type="deal.stage_changed", subject_id=deal.id,
            actor_user_id=principal.user_id, occurred_at=now,
            payload=DealStageChanged(deal_id=deal.id, from_stage=old_stage, to_stage=deal.stage, amount=_amount(deal),
                                     team_id=deal.team_id, account_id=deal.account_id),
        )
        if deal.stage in CLOSED_STAGES:
            _publish_closed(db_session, deal, actor_user_id=principal.user_id)
    db_session.flush()
    return changes


def delete(*, db_session: Session, deal: Deal) -> None:
    # Activities cascade with the deal; those that also belong to a prospect (calls, e-mails) stay on the
    # prospect's timeline, detached by the `app.deals` delete trigger (migration 0009).
    db_session.delete(deal)
    db_session.flush()


def filtered(filters: DealFilters, sort: str | None) -> Select:
    stmt = select(Deal)
    check_range("amount", filters.min_amount, filters.max_amount)
    if filters.close_date_from and filters.close_date_to and filters.close_date_from > filters.close_date_to:
        raise ValidationFailed("closeDate: closeDateFrom is after closeDateTo",
                               details={"field": "closeDate", "value": [filters.close_date_from.isoformat(),
                                                                        filters.close_date_to.isoformat()]})
    if filters.stage:
        stmt = stmt.where(Deal.stage.in_([s.value for s in filters.stage]))
    if filters.forecast_category:
        stmt = stmt.where(Deal.forecast_category.in_([c.value for c in filters.forecast_category]))
    if filters.owner_id:
        stmt = stmt.where(Deal.owner_id == filters.owner_id)
    if filters.account_id:
        stmt = stmt.where(Deal.account_id == filters.account_id)
    if filters.team_id:
        stmt = stmt.where(Deal.team_id == filters.team_id)
    if filters.close_date_from:
        stmt = stmt.where(Deal.close_date >= filters.close_date_from)
    if filters.close_date_to:
        stmt = stmt.where(Deal.close_date <= filters.close_date_to)
    if filters.min_amount is not None:
        stmt = stmt.where(Deal.amount >= filters.min_amount)
    if filters.max_amount is not None:
        stmt = stmt.where(Deal.amount <= filters.max_amount)
    if filters.q:
        stmt = stmt.where(or_(
            contains_any(filters.q, Deal.name),
            Deal.account_id.in_(select(Account.id).where(contains_any(filters.q, Account.name, Account.domain))),
        ))
    return apply_sort(stmt, sort, SORTABLE, default="-createdAt", tiebreak=Deal.id)


# -- contacts ------------------------------------------------------------------------------------

def contacts(*, deal_id: uuid.UUID) -> Select:
    """Primary contact first, then in the order they were added."""
    return (select(DealContact).where(DealContact.deal_id == deal_id)
            .order_by(DealContact.is_primary.desc(), DealContact.created_at, DealContact.id))


def prospects_by_id(*, db_session: Session, prospect_ids: list[uuid.UUID]) -> dict[uuid.UUID, Prospect]:
    if not prospect_ids:
        return {}
    return {p.id: p for p in db_session.scalars(select(Prospect).where(Prospect.id.in_(prospect_ids)))}


def get_contact(*, db_session: Session, deal_id: uuid.UUID, prospect_id: uuid.UUID) -> DealContact | None:
    return db_session.scalar(
        select(DealContact).where(DealContact.deal_id == deal_id, DealContact.prospect_id == prospect_id)
    )


def add_contact(*, db_session: Session, deal: Deal, data: DealContactCreate) -> DealContact:
    require_visible(db_session, Prospect, data.prospect_id, "prospectId")
    if get_contact(db_session=db_session, deal_id=deal.id, prospect_id=data.prospect_id) is not None:
        raise Conflict("this prospect is already a contact on the deal", code="DUPLICATE_DEAL_CONTACT",
                       details={"field": "prospectId", "value": str(data.prospect_id)})
    if data.is_primary:
        # One primary contact per deal: the new one replaces the old.
        db_session.execute(
            sql_update(DealContact).where(DealContact.deal_id == deal.id, DealContact.is_primary.is_(True))
            .values(is_primary=False).execution_options(synchronize_session="fetch")
        )
    contact = DealContact(organization_id=deal.organization_id, deal_id=deal.id, prospect_id=data.prospect_id,
                          role=data.role, is_primary=data.is_primary)
    db_session.add(contact)
    db_session.flush()
    return contact


def remove_contact(*, db_session: Session, contact: DealContact) -> None:
    db_session.delete(contact)
    db_session.flush()


def changed_since(*, db_session: Session, since: datetime | None, limit: int) -> list[Deal]:
    """The deals edited after `since` (all when None), oldest edit first: what an outbound sync pushes."""
    query = select(Deal).order_by(Deal.updated_at, Deal.id).limit(limit)
    if since is not None:
        query = query.where(Deal.updated_at > since)
    return list(db_session.scalars(query))

"""Activity timelines, manual activity logging and call quick-logging."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, or_, select, union
from sqlalchemy.orm import Session

from serving.accounts.models import Account
from serving.activities.models import Activity, ActivityType, CallDirection, CallLog
from serving.activities.schemas import ActivityCreate, ActivityFilters, CallCreate, CallFilters
from serving.core import outbox
from serving.core.errors import ValidationFailed
from serving.core.event_catalogue import CallLogged, MeetingScheduled
from serving.core.listing import apply_sort, contains_any
from serving.core.principal import Principal
from serving.core.references import require_visible
from serving.deals.models import Deal
from serving.prospects.models import Prospect

SORTABLE = {"occurredAt": Activity.occurred_at, "createdAt": Activity.created_at, "type": Activity.type}
CALL_SORTABLE = {
    "calledAt": CallLog.called_at,
    "createdAt": CallLog.created_at,
    "durationSeconds": CallLog.duration_seconds,
}


def account_activity_ids(account_id: uuid.UUID) -> Select:
    """Ids of the account's activities and those of its prospects and deals.

    A union of three index-friendly lookups rather than one OR across subqueries, which
    PostgreSQL can only answer with a scan of every activity of the organization.
    """
    return union(
        select(Activity.id).where(Activity.account_id == account_id),
        select(Activity.id).join(Prospect, Prospect.id == Activity.prospect_id)
        .where(Prospect.account_id == account_id),
        select(Activity.id).join(Deal, Deal.id == Activity.deal_id).where(Deal.account_id == account_id),
    )


def timeline(
    *, prospect_id: uuid.UUID | None = None, account_id: uuid.UUID | None = None, deal_id: uuid.UUID | None = None
) -> Select:
    """Newest first; an account's timeline includes its prospects' and deals' activities."""
    stmt = select(Activity)
    if prospect_id is not None:
        stmt = stmt.where(Activity.prospect_id == prospect_id)
    if account_id is not None:
        stmt = stmt.where(Activity.id.in_(account_activity_ids(account_id)))
    if deal_id is not None:
        stmt = stmt.where(Activity.deal_id == deal_id)
    return stmt.order_by(Activity.occurred_at.desc(), Activity.id)


def engagement_counts(*, db_session: Session, prospect_id: uuid.UUID) -> tuple[dict[str, int], Any]:
    """A prospect's activities counted by type, and the latest one's time."""
    rows = db_session.execute(
        select(Activity.type, func.count(), func.max(Activity.occurred_at))
        .where(Activity.prospect_id == prospect_id)
        .group_by(Activity.type)
    ).all()
    counts = {row[0]: row[1] for row in rows}
    last = max((row[2] for row in rows), default=None)
    return counts, last


def last_touch(*, db_session: Session, deal_id: uuid.UUID, prospect_ids: Select, before: datetime) -> datetime | None:
    """The latest engagement with a deal or its contacts before `before`; stage changes are bookkeeping, not
    engagement."""
    return db_session.scalar(
        select(func.max(Activity.occurred_at)).where(
            or_(Activity.deal_id == deal_id, Activity.prospect_id.in_(prospect_ids)),
            Activity.type != ActivityType.status_change,
            Activity.occurred_at < before,
        )
    )


def get(*, db_session: Session, activity_id: uuid.UUID) -> Activity | None:
    return db_session.get(Activity, activity_id)


def record(
    *,
    db_session: Session,
    organization_id: uuid.UUID,
    type: ActivityType,
    user_id: uuid.UUID | None = None,
    team_id: uuid.UUID | None = None,
    prospect_id: uuid.UUID | None = None,
    account_id: uuid.UUID | None = None,
    deal_id: uuid.UUID | None = None,
    subject: str | None = None,
    description: str | None = None,
    metadata: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> Activity:
    """Add one activity to the caller's transaction; a booked meeting also publishes `meeting.scheduled`."""
    activity = Activity(
        id=uuid.uuid4(), organization_id=organization_id, type=type, user_id=user_id, team_id=team_id,
        prospect_id=prospect_id,
        account_id=account_id, deal_id=deal_id, subject=subject, description=description,
        metadata_=metadata or {}, occurred_at=occurred_at or datetime.now(UTC),
    )
    db_session.add(activity)
    if type == ActivityType.meeting_scheduled:
        outbox.publish(
            db_session, organization_id=organization_id, type="meeting.scheduled", subject_id=activity.id,
            actor_user_id=user_id, occurred_at=activity.occurred_at,
            payload=MeetingScheduled(activity_id=activity.id, prospect_id=prospect_id, account_id=account_id,
                                     deal_id=deal_id, subject=subject, occurred_at=activity.occurred_at),
        )
    return activity


def create(*, db_session: Session, principal: Principal, data: ActivityCreate) -> Activity:
    """Log an activity by hand; the account is taken from the prospect (or deal) when not given."""
    if data.prospect_id is None and data.account_id is None and data.deal_id is None:
        raise ValidationFailed("an activity needs at least one of prospectId, accountId or dealId",
                               details={"field": "prospectId", "value": None})
    prospect = require_visible(db_session, Prospect, data.prospect_id, "prospectId")
    require_visible(db_session, Account, data.account_id, "accountId")
    deal = require_visible(db_session, Deal, data.deal_id, "dealId")
    account_id = data.account_id
    if account_id is None and prospect is not None:
        account_id = prospect.account_id
    if account_id is None and deal is not None:
        account_id = deal.account_id
    activity = record(
        db_session=db_session, organization_id=principal.organization_id, type=data.type,
        user_id=principal.user_id, team_id=principal.team_id, prospect_id=data.prospect_id,
        account_id=account_id, deal_id=data.deal_id, subject=data.subject, description=data.description,
        metadata=data.metadata, occurred_at=data.occurred_at,
    )
    db_session.flush()
    return activity


def filtered(filters: ActivityFilters, sort: str | None) -> Select:
    stmt = select(Activity)
    if filters.type:
        stmt = stmt.where(Activity.type.in_([t.value for t in filters.type]))
    if filters.prospect_id:
        stmt = stmt.where(Activity.prospect_id == filters.prospect_id)
    if filters.account_id:
        stmt = stmt.where(Activity.id.in_(account_activity_ids(filters.account_id)))
    if filters.deal_id:
        stmt = stmt.where(Activity.deal_id == filters.deal_id)
    if filters.user_id:
        stmt = stmt.where(Activity.user_id == filters.user_id)
    _check_window("occurredAfter", filters.occurred_after, filters.occurred_before)
    if filters.occurred_after:
        stmt = stmt.where(Activity.occurred_at >= filters.occurred_after)
    if filters.occurred_before:
        stmt = stmt.where(Activity.occurred_at < filters.occurred_before)
    if filters.q:
        stmt = stmt.where(contains_any(filters.q, Activity.subject, Activity.description))
    return apply_sort(stmt, sort, SORTABLE, default="-occurredAt", tiebreak=Activity.id)


def _check_window(field: str, after: datetime | None, before: datetime | None) -> None:
    if after is not None and before is not None and after >= before:
        raise ValidationFailed(f"{field} must be earlier than the end of the range",
                               details={"field": field, "value": [after.isoformat(), before.isoformat()]})


# -- calls ---------------------------------------------------------------------------------------

def get_call(*, db_session: Session, call_id: uuid.UUID) -> CallLog | None:
    return db_session.get(CallLog, call_id)


def log_call(*, db_session: Session, principal: Principal, data: CallCreate) -> CallLog:
    """Quick-log a call: its timeline activity and the call log (see `record_call`)."""
    prospect = require_visible(db_session, Prospect, data.prospect_id, "prospectId")
    deal = require_visible(db_session, Deal, data.deal_id, "dealId")
    called_at = data.called_at or datetime.now(UTC)
    call_id = uuid.uuid4()
    inbound = data.direction == CallDirection.inbound
    activity = record(
        db_session=db_session, organization_id=principal.organization_id,
        type=ActivityType.call_received if inbound else ActivityType.call_made,
        user_id=principal.user_id, team_id=principal.team_id, prospect_id=prospect.id,
        account_id=prospect.account_id or (deal.account_id if deal else None), deal_id=data.deal_id,
        subject=f"{'Inbound' if inbound else 'Outbound'} call: {data.disposition.value.replace('_', ' ')}",
        description=data.notes, occurred_at=called_at,
        metadata={"callLogId": str(call_id), "disposition": data.disposition.value, "direction": data.direction.value,
                  "durationSeconds": data.duration_seconds, "outcome": data.outcome},
    )
    db_session.flush()
    return record_call(
        db_session=db_session, activity=activity, call_id=call_id, direction=data.direction,
        disposition=data.disposition, duration_seconds=data.duration_seconds, notes=data.notes, outcome=data.outcome,
        phone_number=data.phone_number or prospect.phone,
    )


def record_call(*, db_session: Session, activity: Activity, disposition: str, direction: str = CallDirection.outbound,
                duration_seconds: int = 0, notes: str | None = None, outcome: str | None = None,
                phone_number: str | None = None, call_id: uuid.UUID | None = None) -> CallLog:
    """The call log behind a recorded call activity, and `call.logged` (the prospect's last contact time is the
    prospects domain's reaction)."""
    call = CallLog(
        id=call_id or uuid.uuid4(), organization_id=activity.organization_id, user_id=activity.user_id,
        prospect_id=activity.prospect_id, deal_id=activity.deal_id, activity_id=activity.id, direction=direction,
        disposition=disposition, duration_seconds=duration_seconds, notes=notes, outcome=outcome,
        phone_number=phone_number, called_at=activity.occurred_at,
    )
    db_session.add(call)
    outbox.publish(
        db_session, organization_id=activity.organization_id, type="call.logged", subject_id=activity.prospect_id,
        actor_user_id=activity.user_id, occurred_at=activity.occurred_at,
        payload=CallLogged(call_id=call.id, activity_id=activity.id, prospect_id=activity.prospect_id,
                           deal_id=activity.deal_id, user_id=activity.user_id, direction=str(direction),
                           disposition=str(disposition), duration_seconds=duration_seconds or 0, outcome=outcome,
                           called_at=activity.occurred_at),
    )
    db_session.flush()
    return call


def filtered_calls(filters: CallFilters, sort: str | None) -> Select:
    stmt = select(CallLog)
    if filters.prospect_id:
        stmt = stmt.where(CallLog.prospect_id == filters.prospect_id)
    if filters.deal_id:
        stmt = stmt.where(CallLog.deal_id == filters.deal_id)
    if filters.user_id:
        stmt = stmt.where(CallLog.user_id == filters.user_id)
    if filters.disposition:
        stmt = stmt.where(CallLog.disposition.in_([d.value for d in filters.disposition]))
    if filters.direction:
        stmt = stmt.where(CallLog.direction == filters.direction.value)
    _check_window("calledAfter", filters.called_after, filters.called_before)
    if filters.called_after:
        stmt = stmt.where(CallLog.called_at >= filters.called_after)
    if filters.called_before:
        stmt = stmt.where(CallLog.called_at < filters.called_before)
    return apply_sort(stmt, sort, CALL_SORTABLE, default="-calledAt", tiebreak=CallLog.id)

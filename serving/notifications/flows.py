"""Notifications as a subscriber of the domain events: each catalogued event in `rules.RULES` becomes a notification
for its recipients (collapsed into an open one when it repeats), its e-mail/push/SMS deliveries per the recipient's
preferences, and a wake-up for the open WebSockets (LISTEN/NOTIFY, ids only) and for the delivery worker.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from serving.core.outbox import Event, Subscriber
from serving.core.queue import enqueue
from serving.notifications import rules
from serving.notifications.models import (
    Channel,
    DeliveryState,
    Notification,
    NotificationDelivery,
    NotificationPriority,
)
from serving.notifications.preferences import Preferences, preferences_for
from serving.notifications.realtime import notify_sockets

DELIVER_TASK = "notifications.deliver"
PRIORITY_RANK = {p.value: i for i, p in enumerate(NotificationPriority)}
# Texts cost money and wake people: only what a rep would want on their phone.
SMS_PRIORITIES = frozenset({NotificationPriority.high.value, NotificationPriority.urgent.value})

_DEAL = "select name, owner_id from app.deals where id = :id"
_PROSPECT = """select nullif(trim(concat_ws(' ', first_name, last_name)), '') as name, email, owner_id, account_id
               from app.prospects where id = :id"""
_ACCOUNT = "select name, owner_id from app.accounts where id = :id"
_ADMINS = "select id from app.users where role = 'admin' and is_active"
_ACTIVE = "select id from app.users where id = any(:ids) and is_active"


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _context(db_session: Session, payload: dict) -> tuple[dict[str, str], dict[str, uuid.UUID | None]]:
    """Names for titles and the owners of the records the payload points at (read under the event's tenant)."""
    names: dict[str, str] = {}
    owners: dict[str, uuid.UUID | None] = {}
    if deal_id := _uuid(payload.get("dealId")):
        row = db_session.execute(text(_DEAL), {"id": deal_id}).first()
        if row:
            names["dealName"], owners["deal_owner"] = row.name, row.owner_id
    if prospect_id := _uuid(payload.get("prospectId")):
        row = db_session.execute(text(_PROSPECT), {"id": prospect_id}).first()
        if row:
            names["prospectName"] = row.name or row.email
            owners["prospect_owner"] = row.owner_id
    account_id = _uuid(payload.get("accountId"))
    if account_id:
        row = db_session.execute(text(_ACCOUNT), {"id": account_id}).first()
        if row:
            names["accountName"], owners["account_owner"] = row.name, row.owner_id
    names.setdefault("dealName", "A deal")
    names.setdefault("prospectName", payload.get("displayName") or "a prospect")
    names.setdefault("accountName", "")
    names["subject"] = payload.get("subject") or "(no subject)"
    names["subjectName"] = names.get("prospectName") if prospect_id else (names["accountName"] or "an account")
    return names, owners


def recipients_for(db_session: Session, *, rule: rules.Rule, event: Event,
                   owners: dict[str, uuid.UUID | None]) -> list[uuid.UUID]:
    """The active users the rule names, in rule order, without duplicates and without the event's own actor
    (who moved the deal knows it moved)."""
    found: list[uuid.UUID] = []
    for who in rule.recipients:
        if who.startswith("payload:"):
            candidates = [_uuid(event.payload.get(who.split(":", 1)[1]))]
        elif who == "admins":
            candidates = list(db_session.scalars(text(_ADMINS)))
        elif who == "email_sender":
            candidates = [_uuid(event.payload.get("userId")) or owners.get("prospect_owner")]
        else:
            candidates = [owners.get(who)]
        found += [c for c in candidates if c is not None and c not in found and c != event.actor_user_id]
    if not found:
        return []
    active = set(db_session.scalars(text(_ACTIVE), {"ids": found}))
    return [user_id for user_id in found if user_id in active]


def collapse(db_session: Session, *, user_id: uuid.UUID, group_key: str, event: Event,
             in_app: bool = True) -> Notification | None:
    """The user's open notification of this group from within the collapse window, locked for the update. With
    in-app off for the type, its hidden (archived at birth) notifications collapse too, so that repeats do not
    send an e-mail each."""
    stmt = select(Notification).where(Notification.user_id == user_id, Notification.group_key == group_key,
                                      Notification.updated_at >= event.occurred_at - rules.COLLAPSE_WINDOW)
    if in_app:
        stmt = stmt.where(Notification.archived_at.is_(None), Notification.read_at.is_(None))
    return db_session.scalars(stmt.order_by(Notification.updated_at.desc()).limit(1).with_for_update()).first()


def plan_deliveries(*, notification: Notification, preferences: Preferences) -> list[NotificationDelivery]:
    """One delivery row per outside channel the user wants for this event type (quiet hours are the worker's
    business: it knows when it sends)."""
    rows = []
    for channel in Channel:
        if not preferences.wants(channel.value, notification.type):
            continue
        if channel is Channel.sms and notification.priority not in SMS_PRIORITIES:
            continue
        state = DeliveryState.pending
        if channel is Channel.email and preferences.email_frequency != "instant":
            state = DeliveryState.batched
        rows.append(NotificationDelivery(
            organization_id=notification.organization_id, notification_id=notification.id,
            user_id=notification.user_id, channel=channel.value, status=state.value,
        ))
    return rows


def notify(*, db_session: Session, event: Event, rule: rules.Rule) -> list[Notification]:
    names, owners = _context(db_session, event.payload)
    title = rules.render(rule.title, event.payload, **names) or event.type
    group_key = rules.render(rule.group, event.payload, **names)
    action_url = rules.render(rule.action, event.payload, **names)
    created: list[Notification] = []
    wake = False
    for user_id in recipients_for(db_session, rule=rule, event=event, owners=owners):
        preferences = preferences_for(db_session, user_id=user_id)
        data = {**event.payload, **names, "eventId": str(event.id)}
        in_app = preferences.wants("inApp", event.type)
        open_one = (collapse(db_session, user_id=user_id, group_key=group_key, event=event, in_app=in_app)
                    if group_key else None)
        if open_one is not None:
            # a repeat: the same row, one more; no second e-mail or push for it
            open_one.count += 1
            open_one.title, open_one.data, open_one.source_event_id = title, data, event.id
            open_one.updated_at = event.occurred_at
            if PRIORITY_RANK[rule.priority] > PRIORITY_RANK[open_one.priority]:
                open_one.priority = rule.priority
            db_session.flush()
            if in_app:
                notify_sockets(db_session, notification=open_one)
            continue
        notification = Notification(
            id=uuid.uuid4(), organization_id=event.organization_id, user_id=user_id, type=event.type, title=title,
            body=_body(event), data=data, priority=rule.priority, action_url=action_url, group_key=group_key,
            count=1, source_event_id=event.id, updated_at=event.occurred_at,
            # in-app switched off for this event type: kept (its e-mail or push needs a row) but never listed
            archived_at=None if in_app else event.occurred_at,
        )
        deliveries = plan_deliveries(notification=notification, preferences=preferences)
        if not in_app and not deliveries:
            continue  # every channel is off for this event type: nothing to record
        db_session.add(notification)
        db_session.flush()
        db_session.add_all(deliveries)
        wake = wake or any(d.status == DeliveryState.pending for d in deliveries)
        if in_app:
            notify_sockets(db_session, notification=notification)
        created.append(notification)
    db_session.flush()
    if wake:
        enqueue(db_session, DELIVER_TASK, queueing_lock=f"notifications:{event.organization_id}",
                organization_id=str(event.organization_id))
    return created


def _body(event: Event) -> str | None:
    p = event.payload
    if event.type == "lead.score_threshold_crossed":
        previous = p.get("previousScore")
        top = (p.get("topFactors") or [{}])[0].get("text")
        return (f"Crossed your team's threshold of {p['threshold']}"
                + (f" (was {previous})." if previous is not None else " (first score).")
                + (f" Top factor: {top}." if top else ""))
    if event.type == "task.due_soon":
        return f"Due at {p.get('dueAt')}."
    if event.type in ("email.bounced", "email.spam_reported"):
        detail = p.get("detail") or {}
        return ", ".join(f"{k}: {v}" for k, v in detail.items()) or None
    return None


def on_event(*, db_session: Session, event: Event) -> None:
    rule = rules.BY_TYPE.get(event.type)
    if rule is not None and not rule.future and not rules.skipped(rule, event.payload):
        notify(db_session=db_session, event=event, rule=rule)


SUBSCRIBERS = [
    # the first subscriber's name is kept (deliveries are keyed by it); it now shares the rules' handler
    Subscriber("notifications.score_threshold", frozenset({"lead.score_threshold_crossed"}), on_event),
    Subscriber("notifications.events", rules.live_event_types() - {"lead.score_threshold_crossed"}, on_event),
]

"""Notification services for the API and the socket: a user's own notifications only (every query filters on the
user; row-level security keeps it inside the organization), read state, archive, snooze, preferences, push
subscriptions and presence. Keyword-only; they never commit (the request or the socket handler does)."""

from __future__ import annotations

import copy
import uuid
from datetime import datetime

from sqlalchemy import Select, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from serving.notifications import rules
from serving.notifications.models import (
    DEFAULT_CHANNELS,
    Notification,
    NotificationPreference,
    PresenceStatus,
    PushSubscription,
    UserPresence,
)
from serving.notifications.preferences import profile_timezone
from serving.notifications.realtime import notify_count, notify_presence, notify_sockets
from serving.notifications.schemas import PreferencesIn
from serving.users import service as users_service


def _listed(user_id: uuid.UUID, now: datetime | None = None):
    """Listed = the user's, not archived, not snoozed (a snooze that has passed counts as over even before the
    unsnooze job clears it)."""
    clauses = [Notification.user_id == user_id, Notification.archived_at.is_(None)]
    at = now if now is not None else func.now()
    clauses.append(or_(Notification.snoozed_until.is_(None), Notification.snoozed_until <= at))
    return clauses


def list_query(*, user_id: uuid.UUID, unread: bool | None, types: list[str], priorities: list[str],
               snoozed: bool = False, now: datetime | None = None) -> Select:
    if snoozed:
        stmt = select(Notification).where(Notification.user_id == user_id, Notification.archived_at.is_(None),
                                          Notification.snoozed_until > (now or func.now()))
    else:
        stmt = select(Notification).where(*_listed(user_id, now))
    if unread is True:
        stmt = stmt.where(Notification.read_at.is_(None))
    elif unread is False:
        stmt = stmt.where(Notification.read_at.is_not(None))
    if types:
        stmt = stmt.where(Notification.type.in_(types))
    if priorities:
        stmt = stmt.where(Notification.priority.in_(priorities))
    return stmt.order_by(Notification.updated_at.desc(), Notification.id.desc())


def unread_count(*, db_session: Session, user_id: uuid.UUID) -> int:
    return db_session.scalar(
        select(func.count()).select_from(Notification)
        .where(*_listed(user_id), Notification.read_at.is_(None))
    ) or 0


def get_own(*, db_session: Session, user_id: uuid.UUID, notification_id: uuid.UUID,
            lock: bool = False) -> Notification | None:
    """The user's notification (archived ones excepted); None for anyone else's, as for a missing one."""
    stmt = select(Notification).where(Notification.id == notification_id, Notification.user_id == user_id,
                                      Notification.archived_at.is_(None))
    return db_session.scalars(stmt.with_for_update() if lock else stmt).first()


def visible(*, db_session: Session, user_id: uuid.UUID, notification_id: uuid.UUID) -> Notification | None:
    """What a socket may show: the user's own, listed notification."""
    return db_session.scalars(
        select(Notification).where(Notification.id == notification_id, *_listed(user_id))
    ).first()


def set_read(*, db_session: Session, notification: Notification, read: bool, now: datetime) -> Notification:
    notification.read_at = (notification.read_at or now) if read else None
    db_session.flush()
    notify_count(db_session, organization_id=notification.organization_id, user_id=notification.user_id)
    return notification


def archive(*, db_session: Session, notification: Notification, now: datetime) -> None:
    notification.archived_at = now
    db_session.flush()
    notify_count(db_session, organization_id=notification.organization_id, user_id=notification.user_id)


def mark_all_read(*, db_session: Session, organization_id: uuid.UUID, user_id: uuid.UUID, now: datetime) -> int:
    updated = db_session.execute(
        update(Notification).where(*_listed(user_id, now), Notification.read_at.is_(None)).values(read_at=now)
    ).rowcount
    notify_count(db_session, organization_id=organization_id, user_id=user_id)
    return updated


def snooze(*, db_session: Session, notification: Notification, until: datetime | None) -> Notification:
    """Hide the notification until `until` (the unsnooze job, or the list's own clock, brings it back); None
    unsnoozes now."""
    notification.snoozed_until = until
    db_session.flush()
    if until is None:
        notify_sockets(db_session, notification=notification)
    else:
        notify_count(db_session, organization_id=notification.organization_id, user_id=notification.user_id)
    return notification


def get_preferences(*, db_session: Session, user_id: uuid.UUID) -> dict:
    row = db_session.get(NotificationPreference, user_id)
    if row is None:
        return {"channels": copy.deepcopy(DEFAULT_CHANNELS), "event_overrides": {},
                "timezone": profile_timezone(db_session, user_id=user_id), "urgent_overrides_quiet_hours": False,
                "event_types": [r.event_type for r in rules.RULES]}
    return {"channels": row.channels, "event_overrides": row.event_overrides,
            "timezone": profile_timezone(db_session, user_id=user_id),
            "urgent_overrides_quiet_hours": row.urgent_overrides_quiet_hours,
            "event_types": [r.event_type for r in rules.RULES]}


def put_preferences(*, db_session: Session, organization_id: uuid.UUID, user_id: uuid.UUID,
                    values: PreferencesIn, now: datetime) -> dict:
    """Replace the user's preferences (PUT: the whole document; omitted parts take the defaults)."""
    document = {
        "channels": values.channels.model_dump(by_alias=True),
        "event_overrides": values.event_overrides,
        "urgent_overrides_quiet_hours": values.urgent_overrides_quiet_hours,
    }
    db_session.execute(
        insert(NotificationPreference)
        .values(user_id=user_id, organization_id=organization_id, updated_at=now, **document)
        .on_conflict_do_update(index_elements=["user_id"], set_={**document, "updated_at": now})
    )
    # the time zone is the user's, kept on their profile (also set by `PUT /me/preferences`)
    users_service.update_profile(db_session=db_session, user_id=user_id, timezone=values.timezone)
    return get_preferences(db_session=db_session, user_id=user_id)


def subscribe_push(*, db_session: Session, organization_id: uuid.UUID, user_id: uuid.UUID, endpoint: str,
                   p256dh: str, auth: str, device: str | None) -> PushSubscription:
    """Save (or refresh the keys of) the browser's subscription; the same endpoint twice is one row."""
    subscription_id = db_session.execute(
        insert(PushSubscription)
        .values(id=uuid.uuid4(), organization_id=organization_id, user_id=user_id, endpoint=endpoint,
                p256dh=p256dh, auth=auth, device=device)
        .on_conflict_do_update(index_elements=["user_id", "endpoint"],
                               set_={"p256dh": p256dh, "auth": auth, "device": device})
        .returning(PushSubscription.id)
    ).scalar_one()
    subscription = db_session.get(PushSubscription, subscription_id)
    db_session.refresh(subscription)
    return subscription


def unsubscribe_push(*, db_session: Session, user_id: uuid.UUID, endpoint: str) -> bool:
    subscription = db_session.scalars(
        select(PushSubscription).where(PushSubscription.user_id == user_id, PushSubscription.endpoint == endpoint)
    ).first()
    if subscription is None:
        return False
    db_session.delete(subscription)
    return True


def active_user(*, db_session: Session, organization_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Whether the token's user still exists in its organization and is active (checked when a socket opens)."""
    return bool(db_session.scalar(
        text("select is_active from app.users where id = :u and organization_id = :o"),
        {"u": user_id, "o": organization_id},
    ))


def connected(*, db_session: Session, organization_id: uuid.UUID, user_id: uuid.UUID, now: datetime,
              delta: int) -> None:
    """A socket opened (+1) or closed (-1): the user is online while any is open, offline after the last."""
    count = db_session.execute(
        insert(UserPresence)
        .values(user_id=user_id, organization_id=organization_id, connection_count=max(delta, 0),
                status=PresenceStatus.online if delta > 0 else PresenceStatus.offline, last_seen_at=now,
                updated_at=now)
        .on_conflict_do_update(
            index_elements=["user_id"],
            set_={"connection_count": func.greatest(UserPresence.connection_count + delta, 0),
                  "last_seen_at": now, "updated_at": now},
        )
        .returning(UserPresence.connection_count)
    ).scalar_one()
    status = PresenceStatus.online if count > 0 else PresenceStatus.offline
    db_session.execute(update(UserPresence).where(UserPresence.user_id == user_id)
                       .values(status=status, updated_at=now))
    notify_presence(db_session, organization_id=organization_id, user_id=user_id)


def set_presence(*, db_session: Session, organization_id: uuid.UUID, user_id: uuid.UUID, status: str | None,
                 now: datetime) -> None:
    """A heartbeat (status None) or the client's own away/online."""
    values: dict = {"last_seen_at": now, "updated_at": now}
    if status is not None:
        values["status"] = status
    db_session.execute(update(UserPresence).where(UserPresence.user_id == user_id).values(**values))
    if status is not None:
        notify_presence(db_session, organization_id=organization_id, user_id=user_id)


def set_basics(*, db_session: Session, organization_id: uuid.UUID, user_id: uuid.UUID, now: datetime,
               email_enabled: bool | None = None, email_frequency: str | None = None,
               desktop: bool | None = None) -> dict:
    """The few switches `PUT /me/preferences` shows (e-mail on/off and how often, desktop alerts), changed in the
    user's notification preferences and nothing else of them."""
    current = get_preferences(db_session=db_session, user_id=user_id)
    channels = copy.deepcopy(current["channels"])
    if email_enabled is not None:
        channels.setdefault("email", {})["enabled"] = email_enabled
    if email_frequency is not None:
        channels.setdefault("email", {})["frequency"] = email_frequency
    if desktop is not None:
        channels.setdefault("inApp", {})["desktop"] = desktop
    values = PreferencesIn.model_validate({
        "channels": channels, "eventOverrides": current["event_overrides"], "timezone": current["timezone"],
        "urgentOverridesQuietHours": current["urgent_overrides_quiet_hours"]})
    return put_preferences(db_session=db_session, organization_id=organization_id, user_id=user_id, values=values,
                           now=now)


def notify_user(*, db_session: Session, organization_id: uuid.UUID, user_id: uuid.UUID, type: str, title: str,
                body: str | None, priority: str, data: dict, now: datetime) -> Notification:
    """An in-app notification for one user that no catalogued event carries (a flow's `send_notification` step):
    listed in their notification centre and pushed to their open sockets; ValueError when the user is not an
    active member of the organization."""
    if not active_user(db_session=db_session, organization_id=organization_id, user_id=user_id):
        raise ValueError(f"no active user {user_id} in this organization")
    notification = Notification(id=uuid.uuid4(), organization_id=organization_id, user_id=user_id, type=type,
                                title=title, body=body, data=data, priority=priority, count=1, updated_at=now)
    db_session.add(notification)
    db_session.flush()
    notify_sockets(db_session, notification=notification)
    return notification

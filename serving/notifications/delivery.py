"""The worker's side of notifications: send each due e-mail/push/SMS delivery (holding it back through the user's
quiet hours), and send e-mail digests when a user's period ends. One organization at a time, under its tenant.

E-mail goes through the platform's configured e-mail backend (SendGrid, SMTP or the local outbox — the same
senders outreach uses; notifications are not outreach, so they are not rows in `emails` nor counted in its
analytics). Push is Web Push (RFC 8030) encrypted per RFC 8291 (aes128gcm) with VAPID (RFC 8292) by `pywebpush`.
SMS reuses the cadences' Twilio client. A failure is retried with backoff up to `MAX_ATTEMPTS`, then `failed`.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pywebpush import WebPushException, webpush
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from serving.cadences.sms import SmsRejected, send_sms
from serving.core.config import Settings
from serving.core.db import tenant_session
from serving.emails import system_mail
from serving.emails.delivery import PermanentDeliveryError
from serving.notifications.models import (
    BatchStatus,
    Channel,
    DeliveryState,
    Notification,
    NotificationBatch,
    NotificationDelivery,
    PushSubscription,
)
from serving.notifications.preferences import Preferences, digest_period_end, preferences_for

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BATCH_SIZE = 100
PUSH_TTL_SECONDS = 24 * 3600


class Skip(Exception):
    """Nothing to deliver to (no subscription, no phone, channel not configured): recorded, never retried."""


class Permanent(Exception):
    """The provider refused for good: recorded as failed at once."""


@dataclass
class Outcome:
    sent: int = 0
    deferred: int = 0
    skipped: int = 0
    failed: int = 0
    retried: int = 0
    digests: int = 0


def backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(60, 2 ** attempts))


def _recipient(db_session: Session, user_id: uuid.UUID):
    return db_session.execute(
        text("""select u.email, coalesce(p.first_name, u.full_name) as name, p.phone
                from app.users u left join app.profiles p on p.user_id = u.id where u.id = :id"""),
        {"id": user_id},
    ).first()


def _email(settings: Settings, *, organization_id: uuid.UUID, to: str, subject: str, body: str, now: datetime,
           email_id: uuid.UUID) -> None:
    try:
        system_mail.send(settings, organization_id=organization_id, to=to, subject=subject, body=body,
                         category="notification", now=now, email_id=email_id)
    except PermanentDeliveryError as exc:
        raise Permanent(str(exc)) from exc


def _line(n: Notification) -> str:
    count = f" ({n.count})" if n.count > 1 else ""
    return f"[{n.priority}] {n.title}{count}" + (f"\n    {n.body}" if n.body else "")


def vapid_key(settings: Settings):
    """The VAPID signing key from settings (PEM or pywebpush's base64url form); Skip when push is not set up."""
    from py_vapid import Vapid

    if settings.vapid_private_key is None:
        raise Skip("Web Push is not configured (VAPID_PRIVATE_KEY)")
    value = settings.vapid_private_key.get_secret_value().strip()
    if value.startswith("-----BEGIN"):
        return Vapid.from_pem(value.encode())
    return Vapid.from_string(value)


def push_payload(notification: Notification) -> str:
    """What the service worker receives (decrypted in the browser): enough to show it, ids to open it."""
    return json.dumps({"id": str(notification.id), "type": notification.type, "title": notification.title,
                       "body": notification.body, "priority": notification.priority,
                       "url": notification.action_url, "count": notification.count})


def _push(db_session: Session, settings: Settings, notification: Notification, now: datetime) -> str | None:
    subscriptions = list(db_session.scalars(
        select(PushSubscription).where(PushSubscription.user_id == notification.user_id)
    ))
    if not subscriptions:
        raise Skip("no push subscription")
    key = vapid_key(settings)
    errors = []
    delivered = 0
    for subscription in subscriptions:
        try:
            webpush(
                subscription_info={"endpoint": subscription.endpoint,
                                   "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}},
                data=push_payload(notification), vapid_private_key=key,
                vapid_claims={"sub": settings.vapid_subject}, content_encoding="aes128gcm", ttl=PUSH_TTL_SECONDS,
                timeout=10, headers={"Urgency": "high" if notification.priority in ("high", "urgent") else "normal"},
            )
        except WebPushException as exc:
            status = getattr(exc.response, "status_code", None)
            if status in (404, 410):  # RFC 8030 §7.3: the subscription is gone for good
                db_session.delete(subscription)
                continue
            errors.append(f"{subscription.endpoint[:60]}: {status or exc}")
            continue
        subscription.last_success_at = now
        delivered += 1
    if not delivered:
        if errors:
            raise RuntimeError("; ".join(errors))
        # not raised: the expired subscriptions' deletion must stay
        return "every push subscription has expired"
    return None


def _sms(db_session: Session, settings: Settings, notification: Notification) -> None:
    if not (settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_phone_number):
        raise Skip("SMS is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_PHONE_NUMBER)")
    recipient = _recipient(db_session, notification.user_id)
    if recipient is None or not recipient.phone:
        raise Skip("no phone number in the user's profile")
    try:
        send_sms(settings=settings, to=recipient.phone, body=f"{notification.title}"[:300])
    except SmsRejected as exc:
        raise Permanent(str(exc)) from exc


def send_one(db_session: Session, settings: Settings, *, delivery: NotificationDelivery,
             notification: Notification, now: datetime) -> str | None:
    """Send one delivery; returns why it was skipped, or None once sent. Raises to retry (or Skip/Permanent)."""
    if delivery.channel == Channel.email:
        recipient = _recipient(db_session, notification.user_id)
        if recipient is None:
            raise Skip("the user no longer exists")
        _email(settings, organization_id=notification.organization_id, to=recipient.email,
               subject=notification.title, email_id=delivery.id, now=now,
               body=_line(notification) + (f"\n\nOpen: {notification.action_url}" if notification.action_url else ""))
        return None
    if delivery.channel == Channel.push:
        return _push(db_session, settings, notification, now)
    _sms(db_session, settings, notification)
    return None


def deliver_pending(db_session: Session, settings: Settings, *, now: datetime) -> Outcome:
    """Send the tenant's due deliveries, in the caller's transaction (rows locked, SKIP LOCKED)."""
    outcome = Outcome()
    rows = db_session.execute(
        select(NotificationDelivery, Notification)
        .join(Notification, Notification.id == NotificationDelivery.notification_id)
        .where(NotificationDelivery.status == DeliveryState.pending,
               (NotificationDelivery.scheduled_for.is_(None)) | (NotificationDelivery.scheduled_for <= now))
        .order_by(NotificationDelivery.created_at).limit(BATCH_SIZE)
        .with_for_update(of=NotificationDelivery, skip_locked=True)
    ).all()
    preferences: dict[uuid.UUID, Preferences] = {}
    for delivery, notification in rows:
        prefs = preferences.get(delivery.user_id) or preferences_for(db_session, user_id=delivery.user_id)
        preferences[delivery.user_id] = prefs
        held = prefs.quiet_until(now, priority=notification.priority)
        if held is not None:
            delivery.scheduled_for = held
            outcome.deferred += 1
            continue
        try:
            with db_session.begin_nested():
                skipped = send_one(db_session, settings, delivery=delivery, notification=notification, now=now)
            if skipped:
                raise Skip(skipped)
        except Skip as exc:
            delivery.status, delivery.error = DeliveryState.skipped, str(exc)
            outcome.skipped += 1
            continue
        except Exception as exc:  # recorded on the delivery; retried unless permanent or out of attempts
            delivery.attempts += 1
            delivery.error = f"{type(exc).__name__}: {exc}"[:2000]
            if isinstance(exc, Permanent) or delivery.attempts >= MAX_ATTEMPTS:
                delivery.status = DeliveryState.failed
                outcome.failed += 1
            else:
                delivery.scheduled_for = now + backoff(delivery.attempts)
                outcome.retried += 1
            continue
        delivery.attempts += 1
        delivery.status, delivery.sent_at, delivery.error = DeliveryState.sent, now, None
        outcome.sent += 1
    db_session.flush()
    return outcome


def send_digests(db_session: Session, settings: Settings, *, now: datetime) -> Outcome:
    """For each user with batched e-mail, once their digest period has ended (hourly, daily 08:00 or Monday
    08:00 in their time zone) and outside their quiet hours: one e-mail listing what was batched before the
    boundary, recorded as a `notification_batches` row (one per user, frequency and period)."""
    outcome = Outcome()
    users = list(db_session.scalars(text(
        "select distinct user_id from app.notification_deliveries where status = 'batched'")))
    for user_id in users:
        prefs = preferences_for(db_session, user_id=user_id)
        frequency = prefs.email_frequency
        if frequency == "instant" or not prefs.wants("email", "*"):
            # the user switched to instant (or off) since: what waits goes out (or is dropped) as they now want
            state = DeliveryState.pending if frequency == "instant" and prefs.wants("email", "*") \
                else DeliveryState.skipped
            db_session.execute(text("""update app.notification_deliveries set status = :s, error = :e
                                       where user_id = :u and status = 'batched'"""),
                               {"s": state.value, "u": user_id,
                                "e": None if state is DeliveryState.pending else "e-mail switched off"})
            continue
        if prefs.quiet_until(now, priority="low") is not None:
            continue
        period_end = digest_period_end(now, frequency, ZoneInfo(prefs.timezone))
        items = db_session.execute(
            select(NotificationDelivery, Notification)
            .join(Notification, Notification.id == NotificationDelivery.notification_id)
            .where(NotificationDelivery.user_id == user_id, NotificationDelivery.status == DeliveryState.batched,
                   NotificationDelivery.created_at < period_end)
            .order_by(Notification.created_at).with_for_update(of=NotificationDelivery, skip_locked=True)
        ).all()
        if not items:
            continue
        done = db_session.scalar(select(NotificationBatch.status).where(
            NotificationBatch.user_id == user_id, NotificationBatch.frequency == frequency,
            NotificationBatch.period_end == period_end))
        if done == BatchStatus.sent:
            continue
        batch_id = uuid.uuid4()
        recipient = _recipient(db_session, user_id)
        error = None
        try:
            lines = "\n".join(_line(n) for _, n in items)
            _email(settings, organization_id=items[0][1].organization_id, to=recipient.email, email_id=batch_id,
                   subject=f"Your {frequency} notification digest: {len(items)} update(s)", body=lines, now=now)
        except Exception as exc:  # recorded on the batch; the deliveries stay batched for the next sweep
            error = f"{type(exc).__name__}: {exc}"[:2000]
        status = BatchStatus.failed if error else BatchStatus.sent
        batch_id = db_session.execute(
            insert(NotificationBatch)
            .values(id=batch_id, organization_id=items[0][1].organization_id, user_id=user_id,
                    frequency=frequency, period_end=period_end, notification_count=len(items), status=status,
                    error=error, sent_at=None if error else now)
            .on_conflict_do_update(
                index_elements=["user_id", "frequency", "period_end"],
                set_={"status": status, "error": error, "sent_at": None if error else now,
                      "notification_count": len(items)})
            .returning(NotificationBatch.id)
        ).scalar_one()
        if error:
            outcome.failed += 1
            continue
        for delivery, _ in items:
            delivery.status, delivery.sent_at, delivery.batch_id = DeliveryState.sent, now, batch_id
            delivery.attempts += 1
        outcome.digests += 1
    db_session.flush()
    return outcome


def run(*, factory: sessionmaker[Session], settings: Settings, organization_id: uuid.UUID,
        now: datetime) -> Outcome:
    """One organization: due deliveries, then digests (each its own transaction)."""
    with tenant_session(factory, organization_id) as session:
        outcome = deliver_pending(session, settings, now=now)
    with tenant_session(factory, organization_id) as session:
        outcome.digests = send_digests(session, settings, now=now).digests
    return outcome

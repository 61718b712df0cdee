"""Provider events (the SendGrid Event Webhook): find the email, then apply the event through a table of
handlers keyed by event type, so a new event type is a new entry, not another branch."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from serving.core.clock import utcnow
from serving.core.config import Settings
from serving.core.db import set_tenant
from serving.emails import engagement, suppression
from serving.emails.event_log import publish, record_event
from serving.emails.models import BounceType, Email, EmailStatus, TrackingEventType

SOURCE = "sendgrid"


def locate_email(
    *, db_session: Session, message_ids: list[str], provider_id: str | None = None
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(email id, organization id) by RFC Message-ID or provider id, across tenants (ids only)."""
    row = db_session.execute(
        text("select id, organization_id from app.locate_emails(cast(:ids as text[]), :pid) limit 1"),
        {"ids": [m.strip().strip("<>") for m in message_ids if m], "pid": provider_id},
    ).first()
    return (row[0], row[1]) if row else None


def _event_time(event: dict) -> datetime:
    value = event.get("timestamp")
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError):  # absent, not a number, or beyond any date (1e20)
        return utcnow()


@dataclass(frozen=True)
class ProviderEvent:
    """One provider event, located and keyed, as every handler receives it."""

    db_session: Session
    settings: Settings | None
    email: Email
    kind: str
    occurred_at: datetime
    event_key: str
    address: str
    raw: dict

    @property
    def common(self) -> dict:
        # land_raw=False: the webhook has landed the provider's own payload in raw.email_events already
        return {"db_session": self.db_session, "email": self.email, "event_key": self.event_key, "land_raw": False}


def _open(event: ProviderEvent) -> None:
    engagement.track_open(
        **event.common,
        occurred_at=event.occurred_at,
        source=SOURCE,
        useragent=event.raw.get("useragent"),
        ip=event.raw.get("ip"),
    )


def _click(event: ProviderEvent) -> None:
    engagement.track_click(
        **event.common,
        occurred_at=event.occurred_at,
        source=SOURCE,
        url=str(event.raw.get("url") or ""),
        useragent=event.raw.get("useragent"),
        ip=event.raw.get("ip"),
    )


def _bounce(event: ProviderEvent) -> None:
    # SendGrid's `blocked` bounces are temporary refusals (reputation, content), not dead addresses
    hard = str(event.raw.get("type") or "bounce").lower() != "blocked"
    engagement.bounce(
        **event.common,
        settings=event.settings,
        address=event.address,
        occurred_at=event.occurred_at,
        source=SOURCE,
        bounce_type=BounceType.hard if hard else BounceType.soft,
        reason=event.raw.get("reason"),
        status_code=event.raw.get("status"),
    )


def _spamreport(event: ProviderEvent) -> None:
    engagement.bounce(
        **event.common,
        settings=event.settings,
        address=event.address,
        occurred_at=event.occurred_at,
        source=SOURCE,
        bounce_type=BounceType.spam,
        reason="spam complaint",
    )


def _unsubscribe(event: ProviderEvent) -> None:
    engagement.unsubscribe(
        **event.common,
        organization_id=event.email.organization_id,
        address=event.address,
        source=SOURCE,
        occurred_at=event.occurred_at,
    )


def _blacklist(reason: str) -> Callable[[ProviderEvent, str], None]:
    def apply(event: ProviderEvent, details: str) -> None:
        suppression.blacklist(
            db_session=event.db_session,
            organization_id=event.email.organization_id,
            address=event.address,
            reason=reason,
            details=details,
        )

    return apply


def _drop_unsubscribed(event: ProviderEvent, details: str) -> None:
    suppression.unsubscribe(
        db_session=event.db_session,
        organization_id=event.email.organization_id,
        address=event.address,
        source=SOURCE,
        email_id=event.email.id,
    )


# A drop's reason names why SendGrid refused the address; the first word found decides (in this order).
_DROP_REASONS: tuple[tuple[str, Callable[[ProviderEvent, str], None]], ...] = (
    ("bounce", _blacklist("hard_bounce")),
    ("spam", _blacklist("spam_complaint")),
    ("unsubscribe", _drop_unsubscribed),
)


def _dropped(event: ProviderEvent) -> None:
    reason = str(event.raw.get("reason") or "")
    if not record_event(
        db_session=event.db_session,
        email=event.email,
        event=TrackingEventType.dropped,
        occurred_at=event.occurred_at,
        source=SOURCE,
        recipient=event.address,
        reason=reason,
        event_key=event.event_key,
        land_raw=False,
    ):
        return
    event.email.status = EmailStatus.failed
    event.email.status_reason = f"dropped by SendGrid: {reason}"
    lowered = reason.lower()
    for needle, suppress in _DROP_REASONS:
        if needle in lowered:
            suppress(event, reason)
            break


def _logged(event: ProviderEvent) -> bool:
    """Record a delivery-progress event (processed, deferred, delivered); True when it is new."""
    return record_event(
        db_session=event.db_session,
        email=event.email,
        event=event.kind,
        occurred_at=event.occurred_at,
        source=SOURCE,
        recipient=event.address,
        reason=event.raw.get("reason") or event.raw.get("response"),
        event_key=event.event_key,
        land_raw=False,
    )


def _delivered(event: ProviderEvent) -> None:
    if _logged(event):
        if event.email.delivered_at is None:
            publish(event.db_session, event.email, "email.delivered", event.occurred_at)
        event.email.delivered_at = event.email.delivered_at or event.occurred_at
        if event.email.status == EmailStatus.sent:
            event.email.status = EmailStatus.delivered


HANDLERS: dict[str, Callable[[ProviderEvent], object]] = {
    "open": _open,
    "click": _click,
    "bounce": _bounce,
    "spamreport": _spamreport,
    "unsubscribe": _unsubscribe,
    "group_unsubscribe": _unsubscribe,
    "dropped": _dropped,
    "delivered": _delivered,
    "processed": _logged,
    "deferred": _logged,
}


def _locate(db_session: Session, event: dict) -> tuple[uuid.UUID, uuid.UUID] | None:
    email_id = event.get("revorc_email_id")
    organization_id = event.get("revorc_organization_id")
    try:
        located = (
            (uuid.UUID(str(email_id)), uuid.UUID(str(organization_id)))
            if email_id and organization_id
            else None
        )
    except ValueError:
        located = None
    if located is None:
        provider_id = str(event.get("sg_message_id") or "").split(".")[0] or None
        if provider_id is None:
            return None
        located = locate_email(db_session=db_session, message_ids=[], provider_id=provider_id)
    return located


def apply_email_event(*, db_session: Session, event: dict, settings: Settings | None = None) -> Email | None:
    """Roll one SendGrid-style event onto its `emails` row and the suppression lists.

    Finds the email by `revorc_email_id`/`revorc_organization_id` custom args (we set them on every
    send) or by `sg_message_id`, binds the session's transaction to that organization, and applies
    the event idempotently (keyed by `sg_event_id`) with the handler for its type; a type without a
    handler changes nothing. Returns the email, or None if it is not ours. Does not write
    `raw.email_events` (the webhook lands the raw event itself). The caller commits.
    """
    located = _locate(db_session, event)
    if located is None:
        return None
    set_tenant(db_session, located[1])
    email = db_session.get(Email, located[0], with_for_update=True)
    if email is None:
        return None
    kind = str(event.get("event", "")).lower()
    handler = HANDLERS.get(kind)
    if handler is not None:
        handler(
            ProviderEvent(
                db_session=db_session,
                settings=settings,
                email=email,
                kind=kind,
                occurred_at=_event_time(event),
                event_key=event.get("sg_event_id")
                or "sg:"
                + hashlib.sha256(repr(sorted((k, str(v)) for k, v in event.items())).encode()).hexdigest(),
                address=str(event.get("email") or (email.to[0]["email"] if email.to else "")).lower(),
                raw=event,
            )
        )
    db_session.flush()
    return email

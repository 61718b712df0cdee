"""/notifications (seed 8.1): the caller's own notifications, read state, archive, snooze, preferences and Web Push
subscriptions; and `/ws`, the WebSocket that pushes them as they happen (see `realtime.py`).

Every route acts on the calling user's notifications only: another user's id answers 404, as a missing one does.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from serving.core.clock import utcnow
from serving.core.db import tenant_session
from serving.core.deps import AppSettings, CurrentPrincipal, DbSession
from serving.core.errors import NotFound, ValidationFailed
from serving.core.listing import parse_choices
from serving.core.pagination import Pagination, paginate
from serving.core.security import InvalidToken, decode_access_token
from serving.notifications import service
from serving.notifications.models import Notification, NotificationPriority
from serving.notifications.schemas import (
    MarkedAll,
    NotificationOut,
    NotificationPage,
    PreferencesIn,
    PreferencesOut,
    PushConfigOut,
    PushSubscribeIn,
    PushSubscriptionOut,
    PushUnsubscribeIn,
    SnoozeIn,
    UnreadCount,
)

router = APIRouter()
ws_router = APIRouter()


def _get_or_404(db, principal, notification_id: uuid.UUID) -> Notification:
    notification = service.get_own(db_session=db, user_id=principal.user_id, notification_id=notification_id,
                                   lock=True)
    if notification is None:
        raise NotFound("notification", notification_id)
    return notification


@router.get("", response_model=NotificationPage, summary="My notifications, newest first, with my unread count")
def list_notifications(
    db: DbSession,
    principal: CurrentPrincipal,
    pagination: Pagination,
    unread: Annotated[bool | None, Query(description="true: unread only; false: read only")] = None,
    type: Annotated[str | None, Query(max_length=500, description="event types, comma-separated")] = None,
    priority: Annotated[str | None, Query(max_length=100, description="low,medium,high,urgent")] = None,
    snoozed: Annotated[bool, Query(description="list my snoozed notifications instead")] = False,
):
    types = [t.strip() for t in type.split(",") if t.strip()] if type else []
    stmt = service.list_query(
        user_id=principal.user_id, unread=unread, types=types, snoozed=snoozed,
        priorities=[p.value for p in parse_choices(priority, NotificationPriority, field="priority")],
    )
    items, meta = paginate(db, stmt, pagination)
    return NotificationPage(data=[NotificationOut.model_validate(n) for n in items], pagination=meta,
                            unread_count=service.unread_count(db_session=db, user_id=principal.user_id))


@router.get("/unread-count", response_model=UnreadCount, summary="My unread count (the bell)")
def get_unread_count(db: DbSession, principal: CurrentPrincipal):
    return UnreadCount(unread_count=service.unread_count(db_session=db, user_id=principal.user_id))


@router.post("/mark-all-read", response_model=MarkedAll, summary="Mark all my listed notifications read")
def mark_all_read(db: DbSession, principal: CurrentPrincipal):
    updated = service.mark_all_read(db_session=db, organization_id=principal.organization_id,
                                    user_id=principal.user_id, now=utcnow())
    return MarkedAll(updated=updated, unread_count=service.unread_count(db_session=db, user_id=principal.user_id))


@router.get("/preferences", response_model=PreferencesOut, summary="My notification preferences")
def get_preferences(db: DbSession, principal: CurrentPrincipal):
    return service.get_preferences(db_session=db, user_id=principal.user_id)


@router.put("/preferences", response_model=PreferencesOut, summary="Replace my notification preferences")
def put_preferences(body: PreferencesIn, db: DbSession, principal: CurrentPrincipal):
    return service.put_preferences(db_session=db, organization_id=principal.organization_id,
                                   user_id=principal.user_id, values=body, now=utcnow())


@router.get("/push/config", response_model=PushConfigOut, summary="The VAPID public key browsers subscribe with")
def push_config(settings: AppSettings, principal: CurrentPrincipal):
    return PushConfigOut(vapid_public_key=settings.vapid_public_key)


@router.post("/push/subscribe", response_model=PushSubscriptionOut, status_code=201,
             summary="Save this browser's Web Push subscription")
def push_subscribe(body: PushSubscribeIn, db: DbSession, principal: CurrentPrincipal, settings: AppSettings):
    # The worker POSTs to this URL: browsers' push services are https, so a production server refuses anything
    # else (a plain-http endpoint could aim the worker at an internal service).
    if settings.environment == "production" and body.endpoint.scheme != "https":
        raise ValidationFailed("a push endpoint must be https", details={"field": "endpoint"})
    return service.subscribe_push(db_session=db, organization_id=principal.organization_id,
                                  user_id=principal.user_id, endpoint=str(body.endpoint), p256dh=body.keys.p256dh,
                                  auth=body.keys.auth, device=body.device)


@router.post("/push/unsubscribe", status_code=204, summary="Forget this browser's Web Push subscription")
def push_unsubscribe(body: PushUnsubscribeIn, db: DbSession, principal: CurrentPrincipal):
    if not service.unsubscribe_push(db_session=db, user_id=principal.user_id, endpoint=str(body.endpoint)):
        raise NotFound("push subscription", str(body.endpoint))


@router.get("/{notification_id}", response_model=NotificationOut, summary="One of my notifications")
def get_notification(notification_id: uuid.UUID, db: DbSession, principal: CurrentPrincipal):
    return _get_or_404(db, principal, notification_id)


@router.put("/{notification_id}/read", response_model=NotificationOut, summary="Mark read")
def mark_read(notification_id: uuid.UUID, db: DbSession, principal: CurrentPrincipal):
    return service.set_read(db_session=db, notification=_get_or_404(db, principal, notification_id), read=True,
                            now=utcnow())


@router.put("/{notification_id}/unread", response_model=NotificationOut, summary="Mark unread")
def mark_unread(notification_id: uuid.UUID, db: DbSession, principal: CurrentPrincipal):
    return service.set_read(db_session=db, notification=_get_or_404(db, principal, notification_id), read=False,
                            now=utcnow())


@router.delete("/{notification_id}", status_code=204, summary="Archive (it leaves the list; cleanup removes it)")
def archive(notification_id: uuid.UUID, db: DbSession, principal: CurrentPrincipal):
    service.archive(db_session=db, notification=_get_or_404(db, principal, notification_id), now=utcnow())


@router.post("/{notification_id}/snooze", response_model=NotificationOut, summary="Hide until a time")
def snooze(notification_id: uuid.UUID, body: SnoozeIn, db: DbSession, principal: CurrentPrincipal):
    now = utcnow()
    if body.until <= now:
        raise ValidationFailed("snooze until a time in the future", details={"field": "until",
                                                                              "value": body.until.isoformat()})
    return service.snooze(db_session=db, notification=_get_or_404(db, principal, notification_id),
                          until=body.until)


@router.post("/{notification_id}/unsnooze", response_model=NotificationOut, summary="Bring back now")
def unsnooze(notification_id: uuid.UUID, db: DbSession, principal: CurrentPrincipal):
    return service.snooze(db_session=db, notification=_get_or_404(db, principal, notification_id), until=None)


# ---- WebSocket ---------------------------------------------------------------------------------------------------

AUTH_TIMEOUT_SECONDS = 10.0
POLICY_VIOLATION = 1008  # RFC 6455: the close code for a refused credential


def _authenticate(app, token: str) -> tuple[uuid.UUID, uuid.UUID, int] | None:
    """(organization, user, unread count) of a valid access token whose user is active (the socket is counted
    in their presence); None otherwise. API keys are not
    accepted here: a socket is a signed-in person's."""
    try:
        claims = decode_access_token(token, settings=app.state.settings)
        org, user = uuid.UUID(claims["org"]), uuid.UUID(claims["sub"])
    except (InvalidToken, KeyError, ValueError):
        return None
    with tenant_session(app.state.session_factory, org) as session:
        if not service.active_user(db_session=session, organization_id=org, user_id=user):
            return None
        service.connected(db_session=session, organization_id=org, user_id=user, now=utcnow(), delta=1)
        count = service.unread_count(db_session=session, user_id=user)
    return org, user, count


def _run(app, org: uuid.UUID, work) -> None:
    with tenant_session(app.state.session_factory, org) as session:
        work(session)


def _presence(session, *, organization_id: uuid.UUID, user_id: uuid.UUID, status: str | None) -> None:
    service.set_presence(db_session=session, organization_id=organization_id, user_id=user_id, status=status,
                         now=utcnow())


@ws_router.websocket("/ws")
async def notifications_socket(websocket: WebSocket, token: str | None = None):
    await websocket.accept()
    app = websocket.app
    if not token:
        try:
            first = await asyncio.wait_for(websocket.receive_json(), AUTH_TIMEOUT_SECONDS)
        except (TimeoutError, WebSocketDisconnect, ValueError, KeyError):
            with contextlib.suppress(Exception):
                await websocket.close(code=POLICY_VIOLATION, reason="authentication required")
            return
        token = first.get("token") if isinstance(first, dict) and first.get("type") == "auth" else None
    who = await run_in_threadpool(_authenticate, app, token) if isinstance(token, str) else None
    if who is None:
        await websocket.close(code=POLICY_VIOLATION, reason="invalid or expired token")
        return
    org, user, count = who
    hub = app.state.notifications_hub
    try:
        async with hub.add(org, user, websocket):
            # "ready" promises the socket hears every change from now on: only once this process is listening
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hub.listening.wait(), AUTH_TIMEOUT_SECONDS)
            await websocket.send_json({"type": "ready", "unreadCount": count})
        while True:
            message = await websocket.receive_json()
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "ping":
                await run_in_threadpool(_run, app, org, partial(
                    _presence, organization_id=org, user_id=user, status=None))
                async with hub.locks[websocket]:  # never interleaved with a frame of the hub
                    await websocket.send_json({"type": "pong"})
            elif kind == "presence" and message.get("status") in ("online", "away"):
                await run_in_threadpool(_run, app, org, partial(
                    _presence, organization_id=org, user_id=user, status=message["status"]))
    except (WebSocketDisconnect, ValueError, KeyError):
        pass
    finally:
        hub.discard(org, user, websocket)
        await run_in_threadpool(_run, app, org, lambda s: service.connected(
            db_session=s, organization_id=org, user_id=user, now=utcnow(), delta=-1))

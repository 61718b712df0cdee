"""Real-time delivery over WebSockets, shared by every API process through Postgres LISTEN/NOTIFY.

Whatever changes a user's notifications (the subscriber, the API, the unsnooze function) calls `pg_notify` in its
own transaction, so the wake-up is sent if and only if the change commits. The message carries ids only
(organization, user, notification); each API process's `Hub` LISTENs on one connection, and for a user with a
socket open on *that* process re-reads the row under the user's own tenant (row-level security) before sending
it — a message can never carry another organization's data, and a forged one finds nothing to send.

Socket protocol (JSON text frames), after `GET /ws?token=<access token>` or a first frame `{"type": "auth",
"token": …}`: the server sends `{"type": "ready", "unreadCount": n}`, then `{"type": "notification", "data": {…},
"unreadCount": n}`, `{"type": "unread_count", "unreadCount": n}` and `{"type": "presence.update", "data":
{"userId", "status"}}` for colleagues of the same organization; the client may send `{"type": "ping"}` (answered
`pong`, and refreshes `last_seen_at`) and `{"type": "presence", "status": "away"|"online"}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket

from serving.core.db import libpq_url, tenant_session

logger = logging.getLogger(__name__)

CHANNEL = "notifications"


def _send(db_session: Session, message: dict[str, Any]) -> None:
    db_session.execute(text("select pg_notify(:channel, :payload)"),
                       {"channel": CHANNEL, "payload": json.dumps(message, default=str)})


def notify_sockets(db_session: Session, *, notification: Any) -> None:
    """Tell the user's open sockets (on any API process) about a new or changed notification, at commit."""
    _send(db_session, {"o": notification.organization_id, "u": notification.user_id, "n": notification.id,
                       "k": "notification"})


def notify_count(db_session: Session, *, organization_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Tell the user's open sockets that their unread count changed (read, unread, archive, mark-all-read)."""
    _send(db_session, {"o": organization_id, "u": user_id, "k": "count"})


def notify_presence(db_session: Session, *, organization_id: uuid.UUID, user_id: uuid.UUID) -> None:
    _send(db_session, {"o": organization_id, "u": user_id, "k": "presence"})


@dataclass
class Hub:
    """This process's open sockets by (organization, user), and the LISTEN loop that feeds them."""

    database_url: str
    factory: sessionmaker[Session]
    sockets: dict[tuple[uuid.UUID, uuid.UUID], set[WebSocket]] = field(default_factory=lambda: defaultdict(set))
    locks: dict[WebSocket, asyncio.Lock] = field(default_factory=dict)
    listening: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _listen_forever(self) -> None:
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(libpq_url(self.database_url),
                                                                 autocommit=True) as conn:
                    await conn.execute(f"listen {CHANNEL}")
                    self.listening.set()
                    delay = 0.5
                    async for note in conn.notifies():
                        await self._dispatch(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database restarted or the connection dropped: listen again
                self.listening.clear()
                logger.warning("notifications listener lost its connection (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _dispatch(self, payload: str) -> None:
        try:
            message = json.loads(payload)
            org, user = uuid.UUID(message["o"]), uuid.UUID(message["u"])
            kind = message.get("k")
            notification_id = uuid.UUID(message["n"]) if message.get("n") else None
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring a malformed notifications message: %r", payload[:200])
            return
        if kind == "presence":
            await self._presence(org, user)
            return
        targets = list(self.sockets.get((org, user), ()))
        if not targets:
            return
        frame = await run_in_threadpool(self._frame, org, user, notification_id)
        if frame is not None:
            await self._broadcast(targets, frame)

    def _frame(self, org: uuid.UUID, user: uuid.UUID, notification_id: uuid.UUID | None) -> dict | None:
        from serving.notifications import service  # service imports this module's notify_* helpers
        from serving.notifications.schemas import NotificationOut

        with tenant_session(self.factory, org) as session:
            count = service.unread_count(db_session=session, user_id=user)
            if notification_id is None:
                return {"type": "unread_count", "unreadCount": count}
            row = service.visible(db_session=session, user_id=user, notification_id=notification_id)
            if row is None:  # archived, snoozed or not theirs: the count may still have changed
                return {"type": "unread_count", "unreadCount": count}
            data = NotificationOut.model_validate(row).model_dump(mode="json", by_alias=True)
            return {"type": "notification", "data": data, "unreadCount": count}

    async def _presence(self, org: uuid.UUID, user: uuid.UUID) -> None:
        targets = [ws for (o, _), group in self.sockets.items() if o == org for ws in group]
        if not targets:
            return

        def read() -> dict:
            with tenant_session(self.factory, org) as session:
                status = session.scalar(text("select status from app.user_presence where user_id = :u"),
                                        {"u": user})
            return {"type": "presence.update", "data": {"userId": str(user), "status": status or "offline"}}

        await self._broadcast(targets, await run_in_threadpool(read))

    async def _broadcast(self, targets: list[WebSocket], frame: dict) -> None:
        for ws in targets:
            with contextlib.suppress(Exception):  # a socket closing under us is handled by its own loop
                async with self.locks[ws]:
                    await ws.send_json(frame)

    def add(self, org: uuid.UUID, user: uuid.UUID, ws: WebSocket) -> asyncio.Lock:
        """Register a socket; the caller holds the returned lock while it sends `ready`, so that no frame of
        the hub goes out before it (and none committed after the registration is lost)."""
        self.locks[ws] = asyncio.Lock()
        self.sockets[(org, user)].add(ws)
        return self.locks[ws]

    def discard(self, org: uuid.UUID, user: uuid.UUID, ws: WebSocket) -> None:
        self.locks.pop(ws, None)
        group = self.sockets.get((org, user))
        if group is not None:
            group.discard(ws)
            if not group:
                del self.sockets[(org, user)]

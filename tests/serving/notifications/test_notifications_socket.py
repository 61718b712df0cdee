"""`/ws` against real uvicorn servers with a real WebSocket client: a deal won through the API reaches its owner's
socket through the outbox, the subscriber and Postgres LISTEN/NOTIFY — also when the socket is held by another
API process than the one that took the request — with presence, authentication and tenancy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from serving.main import create_app
from tests.live_server import live_server

WAIT = 20  # seconds a frame may take before the test fails (never a sleep: recv returns as soon as it arrives)


@pytest.fixture(scope="module")
def servers(settings) -> Iterator[tuple[str, str]]:
    """Two API processes' worth of apps (each its own listener and pool) on one database."""
    with ExitStack() as stack:
        yield tuple(stack.enter_context(live_server(create_app(settings), lifespan="on")) for _ in range(2))


@contextmanager
def socket(base: str, token: str | None = None) -> Iterator[ClientConnection]:
    url = base.replace("http://", "ws://") + "/ws" + (f"?token={token}" if token else "")
    with connect(url, open_timeout=WAIT) as ws:
        yield ws


def frame(ws: ClientConnection) -> dict:
    return json.loads(ws.recv(timeout=WAIT))


def ready(ws: ClientConnection) -> dict:
    first = frame(ws)
    assert first["type"] == "ready", first
    return first


def next_of(ws: ClientConnection, kind: str) -> dict:
    while True:
        got = frame(ws)
        if got["type"] == kind:
            return got


def win(base: str, tenant, name: str) -> dict:
    with httpx.Client(base_url=base) as http:
        deal = http.post("/api/v1/deals", json={"name": name}, headers=tenant.user.headers).json()
        moved = http.put(f"/api/v1/deals/{deal['id']}", json={"stage": "closed_won"}, headers=tenant.admin.headers)
        assert moved.status_code == 200, moved.text
    tenant.deliver_events()  # the worker's step: outbox → subscriber → pg_notify at its commit
    return deal


def test_a_won_deal_reaches_the_owners_socket(servers, tenant):
    base, _ = servers
    with socket(base, tenant.user.token) as ws:
        start = ready(ws)["unreadCount"]
        deal = win(base, tenant, "Socket deal")
        got = next_of(ws, "notification")
        assert got["data"]["type"] == "deal.won" and got["data"]["title"] == "Deal won: Socket deal"
        assert got["data"]["data"]["dealId"] == deal["id"]
        assert got["unreadCount"] == start + 1
        # reading it through the API updates the bell on the socket
        with httpx.Client(base_url=base) as http:
            http.put(f"/api/v1/notifications/{got['data']['id']}/read", headers=tenant.user.headers)
        assert next_of(ws, "unread_count")["unreadCount"] == start


def test_another_process_delivers_to_the_socket_it_holds(servers, tenant):
    first, second = servers
    with socket(second, tenant.user.token) as ws:
        ready(ws)
        win(first, tenant, "Cross-process deal")  # the request on one process, the socket on the other
        assert next_of(ws, "notification")["data"]["title"] == "Deal won: Cross-process deal"
        with httpx.Client(base_url=first) as http:
            http.post("/api/v1/notifications/mark-all-read", headers=tenant.user.headers)
        assert next_of(ws, "unread_count")["unreadCount"] == 0


def test_another_organization_never_receives_it(servers, tenant, other_tenant):
    base, other = servers
    with socket(other, other_tenant.user.token) as outsider, socket(base, tenant.user.token) as insider:
        ready(outsider)
        ready(insider)
        win(base, tenant, "Private deal")
        assert next_of(insider, "notification")["data"]["title"] == "Deal won: Private deal"
        # then one of the outsider's own: it is the first notification frame the outsider sees
        win(base, other_tenant, "Their own deal")
        got = next_of(outsider, "notification")
        assert got["data"]["title"] == "Deal won: Their own deal"


def presence_of(ws: ClientConnection, user_id, seen: list | None = None) -> str:
    """The next presence status of this user on the socket (others' frames, one's own included, are skipped and
    kept in `seen`)."""
    while True:
        got = next_of(ws, "presence.update")["data"]
        if got["userId"] == str(user_id):
            return got["status"]
        if seen is not None:
            seen.append(got["userId"])


def test_presence_is_broadcast_to_colleagues(servers, tenant, other_tenant):
    base, other = servers
    with socket(base, tenant.admin.token) as admin, socket(other, other_tenant.admin.token) as stranger:
        ready(admin)
        ready(stranger)
        with socket(other, tenant.user.token) as user:
            ready(user)
            assert presence_of(admin, tenant.user.id) == "online"
            user.send(json.dumps({"type": "presence", "status": "away"}))
            assert presence_of(admin, tenant.user.id) == "away"
            user.send(json.dumps({"type": "ping"}))
            assert next_of(user, "pong") == {"type": "pong"}
        assert presence_of(admin, tenant.user.id) == "offline"
        # the stranger saw nothing of the other organization before their own colleague came online
        with socket(base, other_tenant.user.token) as theirs:
            ready(theirs)
            seen: list = []
            assert presence_of(stranger, other_tenant.user.id, seen) == "online"
            assert set(seen) <= {str(other_tenant.admin.id)}


def test_first_message_authentication_and_refusals(servers, tenant, settings):
    base, _ = servers
    with socket(base) as ws:
        ws.send(json.dumps({"type": "auth", "token": tenant.viewer.token}))
        assert ready(ws)["unreadCount"] >= 0
    for token in ("not-a-token", tenant.user.token[:-4] + "abcd"):
        with socket(base, token) as ws, pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=WAIT)
        assert closed.value.rcvd.code == 1008
    with socket(base) as ws:
        ws.send(json.dumps({"type": "hello"}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=WAIT)
        assert closed.value.rcvd.code == 1008

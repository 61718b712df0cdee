"""The process-wide routes version (serving/core/route_versions.py) keeps FastAPI's nested-router caches right: a
route added to a nested router after requests were served is found, a removed one is gone (FastAPI's own API marks
both), and routing answers as before."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, WebSocket, routing
from fastapi.testclient import TestClient

from serving.core import route_versions


def test_routes_added_after_requests_are_found_through_nested_routers():
    assert route_versions.install() and route_versions.install()  # idempotent
    inner, outer = APIRouter(), APIRouter()

    @inner.get("/one")
    def one() -> dict:
        return {"n": 1}

    outer.include_router(inner, prefix="/inner")
    app = FastAPI()
    app.include_router(outer, prefix="/api")
    with TestClient(app) as client:
        assert client.get("/api/inner/one").json() == {"n": 1}
        assert client.get("/api/inner/two").status_code == 404

        @inner.get("/two")  # after the caches were filled by the requests above
        def two() -> dict:
            return {"n": 2}

        assert client.get("/api/inner/two").json() == {"n": 2}
        third = APIRouter()

        @third.get("/three")
        def three() -> dict:
            return {"n": 3}

        inner.include_router(third, prefix="/deeper")
        assert client.get("/api/inner/deeper/three").json() == {"n": 3}
        assert client.get("/api/inner/one").json() == {"n": 1}


def test_the_prefix_check_passes_over_routers_that_cannot_match_and_keeps_every_route_reachable():
    route_versions.install()
    items, search, ws_and_mount = APIRouter(), APIRouter(), APIRouter()

    @items.get("/{item_id}")
    def item(item_id: int) -> dict:
        return {"item": item_id}

    @items.post("")
    def make() -> dict:
        return {"made": True}

    @items.get("/latest")  # after "/{item_id}": FastAPI tries that one first, and still does
    def latest() -> dict:
        return {"latest": True}

    @items.get("/all/latest")
    def all_latest() -> dict:
        return {"all": True}

    @search.get("")
    def find(q: str = "") -> dict:
        return {"q": q}

    @search.get("/saved/{saved_id}")
    def saved(saved_id: str) -> dict:
        return {"saved": saved_id}

    @ws_and_mount.websocket("/socket")
    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"hello": True})
        await websocket.close()

    api = APIRouter()
    api.include_router(items, prefix="/items")
    api.include_router(search, prefix="/search")
    api.include_router(ws_and_mount, prefix="/live")
    app = FastAPI()
    app.include_router(api, prefix="/api/v1")
    with TestClient(app) as client:
        assert client.get("/api/v1/items/7").json() == {"item": 7}
        assert client.post("/api/v1/items").json() == {"made": True}
        assert client.delete("/api/v1/items/7").status_code == 405  # the route's path matched, not its method
        assert client.get("/api/v1/items/latest").status_code == 422  # the first route in order won: not an int
        assert client.get("/api/v1/items/all/latest").json() == {"all": True}
        assert client.get("/api/v1/search", params={"q": "acme"}).json() == {"q": "acme"}
        assert client.get("/api/v1/search/saved/abc").json() == {"saved": "abc"}
        assert client.get("/api/v1/searching").status_code == 404
        assert client.get("/api/v2/items/7").status_code == 404
        with client.websocket_connect("/api/v1/live/socket") as websocket:
            assert websocket.receive_json() == {"hello": True}
    included = [r for r in app.router.routes if isinstance(r, routing._IncludedRouter)]
    assert [route_versions.literal_prefix(r) for r in included] == ["/api/v1/"]
    children = included[0].effective_candidates()
    assert [route_versions.literal_prefix(c) for c in children] == ["/api/v1/items", "/api/v1/search",
                                                                    "/api/v1/live/socket"]

"""The process-wide routes version (serving/core/route_versions.py) keeps FastAPI's nested-router caches right: a
route added to a nested router after requests were served is found, a removed one is gone (FastAPI's own API marks
both), and routing answers as before."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
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

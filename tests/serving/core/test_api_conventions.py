"""Conventions every endpoint shares: error envelope, health checks, request ids, the OpenAPI document."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from serving.main import create_app
from tests.conftest import make_settings


def assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"success", "error"}
    assert body["success"] is False
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def test_unknown_route_is_404_in_the_envelope(client, tenant):
    assert_envelope(client.get("/api/v1/no-such-thing", headers=tenant.user.headers), 404, "NOT_FOUND")
    assert_envelope(client.get("/nothing-here"), 404, "NOT_FOUND")


def test_wrong_method_is_405_in_the_envelope(client, tenant):
    response = client.patch("/api/v1/prospects", headers=tenant.user.headers)
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["allow"]
    assert_envelope(client.delete("/healthz"), 405, "METHOD_NOT_ALLOWED")


def test_malformed_json_is_422_in_the_envelope(client, tenant):
    response = client.post("/api/v1/prospects", content=b'{"email": "x@example.com",',
                           headers={**tenant.user.headers, "Content-Type": "application/json"})
    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert error["details"]["errors"][0]["type"] == "json_invalid"
    not_an_object = client.post("/api/v1/prospects", json=["x@example.com"], headers=tenant.user.headers)
    assert_envelope(not_an_object, 422, "VALIDATION_ERROR")


def test_validation_error_details_list_every_error(client, tenant):
    response = client.post("/api/v1/prospects", json={"email": "bad", "phone": "bad", "nope": 1},
                           headers=tenant.user.headers)
    error = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert {e["field"] for e in error["details"]["errors"]} == {"email", "phone", "nope"}
    first = error["details"]["errors"][0]
    assert (error["details"]["field"], error["details"]["value"]) == (first["field"], first["value"])
    assert error["message"].startswith(f"{first['field']}: ")


def test_bad_path_parameter_is_422(client, tenant):
    error = assert_envelope(client.get("/api/v1/prospects/123", headers=tenant.user.headers), 422,
                            "VALIDATION_ERROR")
    assert error["details"]["field"] == "prospect_id"


def test_auth_errors_use_the_envelope(client):
    error = assert_envelope(client.get("/api/v1/prospects", headers={"Authorization": "Basic Zm9vOmJhcg=="}),
                            401, "UNAUTHORIZED")
    assert "Bearer" in error["message"]


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok"}}


def test_request_id_is_echoed_or_generated(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)


@pytest.fixture
def unreachable_client(state_dir, tmp_path: Path):
    missing = tmp_path / "no-such-socket-dir"
    settings = make_settings(f"postgresql+psycopg://revorc@/revorc?host={missing}", state_dir)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_readyz_is_503_when_the_database_is_unreachable(unreachable_client, tenant):
    assert unreachable_client.get("/healthz").status_code == 200
    error = assert_envelope(unreachable_client.get("/readyz"), 503, "SERVICE_UNAVAILABLE")
    assert error["details"] == {"check": "database"}
    # requests that need the database fail in the envelope too, without leaking connection details
    response = unreachable_client.get("/api/v1/prospects", headers=tenant.user.headers)
    error = assert_envelope(response, 503, "SERVICE_UNAVAILABLE")
    assert "no-such-socket-dir" not in response.text
    login = unreachable_client.post("/api/v1/auth/login", json={"email": "a@example.com", "password": "x"})
    assert_envelope(login, 503, "SERVICE_UNAVAILABLE")


def _resolve(document: dict, ref: str) -> dict:
    assert ref.startswith("#/"), ref
    node = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _refs(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _routes(routes, prefix: str = ""):
    """(path, method) of every schema route, through included routers (FastAPI keeps them nested)."""
    for route in routes:
        if isinstance(route, APIRoute):
            if route.include_in_schema:
                yield from ((prefix + route.path, method.lower()) for method in route.methods)
        elif hasattr(route, "original_router"):
            yield from _routes(route.original_router.routes, prefix + route.include_context.prefix)
        elif hasattr(route, "routes"):
            yield from _routes(route.routes, prefix + getattr(route, "path", ""))


def test_openapi_document_is_valid_and_complete(client, app):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert re.fullmatch(r"3\.\d+\.\d+", document["openapi"])
    assert document["info"]["title"] and document["info"]["version"]
    paths = document["paths"]
    methods = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
    for path, item in paths.items():
        assert path.startswith("/"), path
        for method, operation in item.items():
            assert method in methods | {"parameters", "summary", "description"}, (path, method)
            if method in methods:
                assert operation["responses"], (path, method)
                assert operation.get("operationId"), (path, method)
                for parameter in re.findall(r"{(\w+)}", path):
                    declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
                    assert parameter in declared, (path, method, parameter)
    operation_ids = [op["operationId"] for item in paths.values() for m, op in item.items() if m in methods]
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"
    for ref in _refs(document):
        assert _resolve(document, ref), ref

    routed = {(path, method) for path, method in _routes(app.routes) if path.startswith("/api/v1")}
    assert len(routed) > 20
    documented = {(path, method) for path, item in paths.items() for method in item if method in methods}
    assert routed and routed <= documented, routed - documented
    for path in ("/api/v1/auth/login", "/api/v1/api-keys/{api_key_id}/rotate", "/api/v1/prospects/import",
                 "/api/v1/prospects/export", "/api/v1/prospects/{prospect_id}/insights"):
        assert path in paths, path
    assert "/healthz" in paths and "/readyz" in paths


def test_docs_pages_are_served(client):
    assert "swagger" in client.get("/docs").text.lower()
    assert client.get("/redoc").status_code == 200


def test_every_list_endpoint_returns_the_list_envelope(client, tenant):
    """`{"data": [...], "pagination": {...}}` everywhere: no GET answers a bare array."""
    schema = client.get("/openapi.json").json()
    bare = [path for path, item in schema["paths"].items()
            if item.get("get", {}).get("responses", {}).get("200", {}).get("content", {})
            .get("application/json", {}).get("schema", {}).get("type") == "array"]
    assert bare == []
    client.post("/api/v1/mailboxes", json={"email": "one@example.com"}, headers=tenant.admin.headers)
    client.post("/api/v1/mailboxes", json={"email": "two@example.com"}, headers=tenant.admin.headers)
    cadence = client.post("/api/v1/cadences", json={"name": "c"}, headers=tenant.admin.headers).json()
    for path, total in (("/api/v1/mailboxes", 2), (f"/api/v1/cadences/{cadence['id']}/steps", 0),
                        ("/api/v1/emails/outbox", 0)):
        body = client.get(path, params={"limit": 1, "page": 2}, headers=tenant.user.headers).json()
        assert body["pagination"] == {"page": 2, "limit": 1, "total": total, "pages": total}, (path, body)
        assert len(body["data"]) == (1 if total >= 2 else 0)


def test_method_not_allowed_lists_every_method_of_the_resource(client, tenant):
    response = client.request("OPTIONS", "/api/v1/accounts", headers=tenant.user.headers)
    assert response.status_code == 405 and response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert set(response.headers["allow"].split(", ")) == {"GET", "POST"}
    response = client.patch("/api/v1/accounts/00000000-0000-0000-0000-000000000000", headers=tenant.user.headers)
    assert set(response.headers["allow"].split(", ")) == {"GET", "PUT", "DELETE"}

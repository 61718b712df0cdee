"""Input Postgres cannot store is a 422 at the edge, never a 500; the OpenAPI document says what is accepted."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from serving.core.deps import DbSession
from serving.main import create_app

INT32_MAX = 2**31 - 1  # Postgres `integer`

ENVELOPE_KEYS = {"success", "error"}


def _post_raw(client, path: str, text: str, headers: dict):
    """Post JSON text as is: `json=` cannot carry a lone surrogate (httpx encodes to UTF-8 first)."""
    return client.post(path, content=text.encode("utf-8", "surrogatepass"),
                       headers={**headers, "Content-Type": "application/json"})


def _refused(response, field: str | None = None) -> dict:
    assert response.status_code == 422, (response.status_code, response.text)
    body = response.json()
    assert set(body) == ENVELOPE_KEYS and body["success"] is False
    assert body["error"]["code"] == "VALIDATION_ERROR"
    if field is not None:
        assert body["error"]["details"]["field"] == field, body
    return body["error"]


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("/api/v1/prospects", '{"email": "nul@example.com", "firstName": "a\\u0000b"}', "firstName"),
        ("/api/v1/prospects", '{"email": "s@example.com", "customFields": {"note": "x\\ud800"}}',
         "customFields.note"),
        ("/api/v1/email-templates", '{"name": "t", "subject": "s\\u0000", "text": "hello"}', "subject"),
        ("/api/v1/mailboxes", '{"email": "box@example.com", "displayName": "\\udfff"}', "displayName"),
        ("/api/v1/deals", '{"name": "d", "nextStep": "call\\u0000"}', "nextStep"),
        ("/api/v1/scoring/rules", '{"ruleSet": {"name": "r", "rules": [], "mlWeight": 1e400}}', "ruleSet.mlWeight"),
    ],
)
def test_bodies_with_nul_surrogates_or_infinity_are_refused(client, tenant, path, payload, field):
    method = client.put if path.endswith("/rules") else client.post
    response = method(path, content=payload.encode("utf-8", "surrogatepass"),
                      headers={**tenant.admin.headers, "Content-Type": "application/json"})
    error = _refused(response, field)
    assert "NUL" in error["message"]


@pytest.mark.parametrize(
    "path",
    ["/api/v1/accounts?q=a%00b", "/api/v1/activities?q=%00", "/api/v1/prospects/export?q=%00",
     "/api/v1/prospects?company=x%00", "/api/v1/scoring/models/v%001/promote"],
)
def test_query_and_path_parameters_with_nul_are_refused(client, tenant, path):
    method = client.post if path.endswith("/promote") else client.get
    error = _refused(method(path, headers=tenant.admin.headers))
    assert error["details"]["field"] in {"q", "company", "version"}


def test_integers_beyond_the_integer_column_are_refused(client, tenant):
    response = client.get(f"/api/v1/accounts?minEmployeeCount={INT32_MAX + 1}", headers=tenant.admin.headers)
    _refused(response, "minEmployeeCount")
    ok = client.get(f"/api/v1/accounts?minEmployeeCount={INT32_MAX}", headers=tenant.admin.headers)
    assert ok.status_code == 200 and ok.json()["data"] == []


@pytest.mark.parametrize("domain", ["0" * 250, "a" * 64 + ".com", "bad\U00082df3.com", "under_score.com"])
def test_deliverability_refuses_what_is_not_a_domain_name(client, tenant, domain):
    response = client.get("/api/v1/emails/deliverability", params={"domain": domain}, headers=tenant.user.headers)
    _refused(response, "domain")


def test_deliverability_of_a_long_domain_whose_dkim_name_cannot_exist(app, client, tenant):
    class EmptyZone:
        def resolve(self, name, rdtype):
            import dns.name
            import dns.resolver

            dns.name.from_text(name)  # what a real resolver does first: a name over 255 octets raises
            raise dns.resolver.NXDOMAIN()

    domain = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 57]) + ".com"  # 253 characters
    app.state.dns_resolver = EmptyZone()
    try:
        response = client.get("/api/v1/emails/deliverability", params={"domain": domain, "selector": "s1"},
                              headers=tenant.user.headers)
    finally:
        del app.state.dns_resolver
    assert response.status_code == 200, response.text
    assert {c["record"]: c["status"] for c in response.json()["checks"]}["DKIM"] == "fail"


def test_a_value_postgres_refuses_is_a_422_not_a_500(settings):
    """The safety net behind validation: a data error from the database (here an integer out of range, on a
    real connection) is the client's input, answered in the envelope, and the transaction rolls back."""
    app = create_app(settings)

    @app.get("/probe")
    def probe(db: DbSession, value: str):
        db.execute(text("select cast(:value as integer)"), {"value": value})
        return {"ok": True}

    with TestClient(app) as probe_client:
        assert probe_client.get("/probe", params={"value": "7"}).json() == {"ok": True}
        error = _refused(probe_client.get("/probe", params={"value": str(INT32_MAX + 1)}))
    assert error["details"] == {"sqlstate": "22003", "reason": "a number is out of range"}


def test_openapi_documents_the_error_envelope_and_raw_bodies(client):
    schema = client.get("/openapi.json").json()
    operations = [(path, method, op) for path, item in schema["paths"].items() if path.startswith("/api/v1")
                  for method, op in item.items()]
    assert operations
    for path, method, op in operations:
        responses = op["responses"]
        assert responses["4XX"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorEnvelope"}, (method, path)
        assert "422" not in responses, (method, path)  # FastAPI's {"detail": [...]} is never what we send
    raw = {("/api/v1/events/track", "post"), ("/api/v1/events/batch", "post"),
           ("/api/v1/emails/webhook/sendgrid", "post")}
    for path, method in raw:
        assert schema["paths"][path][method]["requestBody"]["required"] is True
    rule_set = schema["components"]["schemas"]["RuleSetIn"]["properties"]["ruleSet"]
    assert "RuleSet" in json.dumps(rule_set)
    # a template needs an html or a text body: the schema says so, not only the validator
    assert [branch["required"] for branch in schema["components"]["schemas"]["TemplateIn"]["anyOf"]] == [
        ["html"], ["text"]]


def _integer_and_number_schemas(node, path=""):
    if isinstance(node, dict):
        types = node.get("type")
        types = types if isinstance(types, list) else [types]
        if "integer" in types or "number" in types:
            yield path, node
        for key, value in node.items():
            yield from _integer_and_number_schemas(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _integer_and_number_schemas(value, f"{path}/{index}")


def _referenced(node, components: dict, seen: set) -> set:
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/components/schemas/") and ref.split("/")[-1] not in seen:
            seen.add(ref.split("/")[-1])
            _referenced(components[ref.split("/")[-1]], components, seen)
        for value in node.values():
            _referenced(value, components, seen)
    elif isinstance(node, list):
        for value in node:
            _referenced(value, components, seen)
    return seen


def test_every_number_a_client_sends_is_bounded(client):
    """Request parameters and bodies (and every schema they reference): an unbounded integer or number
    reaches an `integer` column or a model as a value it cannot hold. Responses may carry anything."""
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    unbounded, in_requests = [], set()
    for path, item in schema["paths"].items():
        for method, op in item.items():
            for param in op.get("parameters", []):
                unbounded += [(method, path, param["name"], where)
                              for where, node in _integer_and_number_schemas(param.get("schema", {}))
                              if "maximum" not in node and "enum" not in node]
            _referenced(op.get("requestBody", {}), components, in_requests)
    assert {"ProspectCreate", "LeadFeatures", "CompareCondition"} <= in_requests
    for name in sorted(in_requests):
        nodes = list(_integer_and_number_schemas(components[name]))
        unbounded += [(name, where) for where, node in nodes
                      if not {"maximum", "exclusiveMaximum", "enum", "const"} & set(node)]
        # an integer is stored in an `integer` column at most
        unbounded += [(name, where, node["maximum"]) for where, node in nodes
                      if node.get("type") == "integer" and node.get("maximum", 0) > INT32_MAX]
    assert unbounded == []


def test_parameters_are_checked_before_routing_and_ordinary_escapes_pass(client, tenant):
    # refused before routing: a path no route serves names no parameter, and the answer is still the envelope
    response = client.get("/api/v1/no-such-thing/a%00b", headers=tenant.admin.headers)
    assert _refused(response)["details"]["field"] == "path"
    assert response.headers["x-request-id"]
    # a route whose parameter is typed (a UUID) is named all the same, before its own validation
    assert _refused(client.get("/api/v1/prospects/%00", headers=tenant.admin.headers))["details"]["field"] == \
        "prospect_id"
    # escapes of ordinary text are decoded and served
    ok = client.get("/api/v1/accounts?q=a%20b%2Fc", headers=tenant.admin.headers)
    assert ok.status_code == 200, ok.text

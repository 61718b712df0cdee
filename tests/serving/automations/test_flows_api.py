"""The flows API: validation with the bad step's path, versions, enable/disable, the webhook trigger's token, YAML
export → import round trip (and import as create-or-update by name), roles (admins write, viewers read), and
tenancy (another organization's flows and executions are not found; its hook tokens do not open ours)."""

from __future__ import annotations

import uuid

import yaml

from serving.automations.definition import API_VERSION
from tests.serving.automations.conftest import API, create_flow, executions_of, queued_jobs, run_queued

HTTP_STEP = {"id": "call", "type": "http_request", "url": "https://example.com/hook", "body": {"n": "{{deal.name}}"}}


def _post(client, tenant, body, who="admin"):
    return client.post(API, json=body, headers=getattr(tenant, who).headers)


def test_invalid_definitions_are_422_with_the_path_of_the_bad_step(client, tenant):
    base = {"name": "bad", "trigger": {"type": "manual"}}
    nested_bad = {**base, "steps": [{"id": "c", "type": "condition", "if": "true", "then": [
        {"id": "ok", "type": "transform", "set": {"a": 1}},
        {"id": "h", "type": "http_request", "url": "https://example.com", "timeoutSeconds": 99}]}]}
    response = _post(client, tenant, nested_bad)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == "steps.0.condition.then.1.http_request.timeoutSeconds"

    unknown = _post(client, tenant, {**base, "steps": [{"id": "x", "type": "teleport"}]})
    assert unknown.status_code == 422 and unknown.json()["error"]["details"]["field"].startswith("steps.0")

    template = _post(client, tenant, {**base, "steps": [
        {"id": "a", "type": "transform", "set": {"x": "fine"}},
        {"id": "l", "type": "loop", "over": "trigger.items", "steps": [
            {"id": "b", "type": "send_email", "to": "{{ item.email }", "subject": "s", "text": "t"}]}]})
    assert template.status_code == 422, template.text
    error = template.json()["error"]
    assert error["code"] == "INVALID_FLOW" and error["details"]["field"] == "steps[1].steps[0].to"
    assert "template does not parse" in error["message"]

    duplicate = _post(client, tenant, {**base, "steps": [
        {"id": "a", "type": "transform", "set": {"x": 1}},
        {"id": "c", "type": "condition", "if": "trigger.x >", "else": [{"id": "a", "type": "transform",
                                                                         "set": {"y": 2}}]}]})
    fields = {e["field"] for e in duplicate.json()["error"]["details"]["errors"]}
    assert duplicate.status_code == 422 and fields == {"steps[1].if", "steps[1].else[0].id"}

    for trigger, field in (({"type": "schedule", "cron": "every day"}, "trigger.schedule.cron"),
                           ({"type": "schedule", "cron": "0 9 * * *", "timezone": "Mars/Base"},
                            "trigger.schedule.timezone"),
                           ({"type": "record_change", "event": "deal.exploded"}, "trigger.record_change.event")):
        response = _post(client, tenant, {"name": "t", "trigger": trigger, "steps": [HTTP_STEP]})
        assert response.status_code == 422 and response.json()["error"]["details"]["field"] == field, trigger
    assert client.get(API, headers=tenant.admin.headers).json()["pagination"]["total"] == 0  # nothing saved


def test_crud_versions_enable_and_roles(client, tenant):
    created = create_flow(client, tenant, enabled=False, trigger={"type": "manual"}, steps=[HTTP_STEP])
    assert created["version"] == 1 and created["enabled"] is False and created["hookUrl"] is None
    assert created["steps"][0]["retry"] == {"maxAttempts": 1, "backoffSeconds": 0.0}  # defaults stored
    flow_url = f"{API}/{created['id']}"
    # viewers and users read; only admins write
    assert client.get(flow_url, headers=tenant.viewer.headers).status_code == 200
    assert client.get(API, headers=tenant.user.headers).json()["pagination"]["total"] == 1
    for who in ("viewer", "user"):
        headers = getattr(tenant, who).headers
        assert _post(client, tenant, {"name": "x", "trigger": {"type": "manual"}, "steps": [HTTP_STEP]},
                     who=who).status_code == 403
        assert client.post(f"{flow_url}/run", headers=headers).status_code == 403
        assert client.delete(flow_url, headers=headers).status_code == 403
    same_name = _post(client, tenant, {"name": created["name"], "trigger": {"type": "manual"}, "steps": [HTTP_STEP]})
    assert same_name.status_code == 409 and same_name.json()["error"]["code"] == "DUPLICATE_FLOW_NAME"

    body = {"name": created["name"], "description": "now with two steps", "trigger": {"type": "manual"},
            "steps": [HTTP_STEP, {"id": "t", "type": "transform", "set": {"a": "{{steps.call.status}}"}}]}
    replaced = client.put(flow_url, json=body, headers=tenant.admin.headers)
    assert replaced.status_code == 200 and replaced.json()["version"] == 2
    again = client.put(flow_url, json=body, headers=tenant.admin.headers)
    assert again.json()["version"] == 2  # nothing changed in the definition: same version
    assert client.post(f"{flow_url}/enable", headers=tenant.admin.headers).json()["enabled"] is True
    listed = client.get(API, params={"enabled": "true", "triggerType": "manual"}, headers=tenant.admin.headers)
    assert [f["id"] for f in listed.json()["data"]] == [created["id"]]
    assert client.get(API, params={"triggerType": "cron"}, headers=tenant.admin.headers).status_code == 422
    assert client.post(f"{flow_url}/disable", headers=tenant.admin.headers).json()["enabled"] is False
    assert client.delete(flow_url, headers=tenant.admin.headers).status_code == 204
    assert client.get(flow_url, headers=tenant.admin.headers).status_code == 404


def test_webhook_trigger_token(flows_client, flows_settings, tenant, owner_session):
    flow = create_flow(flows_client, tenant, trigger={"type": "webhook"}, steps=[
        {"id": "keep", "type": "transform", "set": {"who": "{{trigger.user.name}}"}}])
    assert flow["hasHookToken"] is True and "hookUrl" in flow
    hook = flow["hookUrl"].split("/api/v1", 1)[1]
    token = hook.rsplit("/", 1)[1]
    assert len(token) >= 40
    accepted = flows_client.post(f"/api/v1{hook}", json={"user": {"name": "Ada"}})
    assert accepted.status_code == 202 and accepted.json()["status"] == "queued"
    for wrong in (f"/api/v1/flows/hooks/{flow['id']}/{token[:-1]}x", f"/api/v1/flows/hooks/{uuid.uuid4()}/{token}"):
        response = flows_client.post(wrong, json={})
        assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND"
    # the token is never shown again; rotating makes the old URL stop working
    shown = flows_client.get(f"{API}/{flow['id']}", headers=tenant.admin.headers).json()
    assert token not in str(shown) and "hookUrl" not in shown
    rotated = flows_client.post(f"{API}/{flow['id']}/rotate-hook-token", headers=tenant.admin.headers).json()
    assert flows_client.post(f"/api/v1{hook}", json={}).status_code == 404
    assert flows_client.post(f"/api/v1{rotated['hookUrl'].split('/api/v1', 1)[1]}", json={}).status_code == 202
    # a disabled flow's hook is closed
    flows_client.post(f"{API}/{flow['id']}/disable", headers=tenant.admin.headers)
    assert flows_client.post(f"/api/v1{rotated['hookUrl'].split('/api/v1', 1)[1]}", json={}).status_code == 404
    assert flows_client.post(f"/api/v1{hook}", content=b"[1, 2", headers={"content-type": "application/json"}
                             ).status_code == 422
    assert run_queued(flows_settings, owner_session, tenant) == ["succeeded", "failed"]  # the second had no user
    statuses = {e["triggerPayload"].get("user", {}).get("name"): e["status"]
                for e in executions_of(flows_client, tenant, flow["id"])}
    assert statuses == {"Ada": "succeeded", None: "failed"}


def test_yaml_export_import_round_trip(client, tenant, other_tenant):
    steps = [
        {"id": "prep", "type": "transform", "set": {"big": "{{ deal.amount > 1000 }}"}},
        {"id": "check", "type": "condition", "if": "vars.big", "then": [
            {"id": "each", "type": "loop", "over": "trigger.ids", "as": "x", "maxItems": 10, "steps": [HTTP_STEP]}],
         "else": [{"id": "note", "type": "send_notification", "userId": str(tenant.admin.id), "title": "small"}]},
    ]
    flow = create_flow(client, tenant, name="Won deals to the CRM", description="sync",
                       trigger={"type": "record_change", "event": "deal.won", "filter": {"amount": 5000}},
                       steps=steps)
    exported = client.get(f"{API}/{flow['id']}/export", headers=tenant.viewer.headers)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/yaml")
    document = yaml.safe_load(exported.text)
    assert document["apiVersion"] == API_VERSION and document["kind"] == "Flow"
    assert document["metadata"] == {"name": "Won deals to the CRM", "description": "sync", "version": 1}
    assert document["spec"]["trigger"] == {"type": "record_change", "event": "deal.won", "filter": {"amount": 5000}}
    assert document["spec"]["steps"][1]["then"][0]["as"] == "x"

    # into another organization: the same flow, new there
    imported = client.post(f"{API}/import", content=exported.text, headers={
        **other_tenant.admin.headers, "content-type": "application/yaml"})
    assert imported.status_code == 201, imported.text
    assert imported.json()["created"] is True and imported.json()["id"] != flow["id"]
    for key in ("name", "description", "enabled", "trigger", "steps"):
        assert imported.json()[key] == flow[key], key
    again = client.get(f"{API}/{imported.json()['id']}/export", headers=other_tenant.admin.headers)
    assert yaml.safe_load(again.text)["spec"] == document["spec"]

    # back into the first one: same name → same flow; unchanged → same version; changed → next version
    same = client.post(f"{API}/import", content=exported.text, headers=tenant.admin.headers)
    assert same.status_code == 200 and same.json()["id"] == flow["id"] and same.json()["version"] == 1
    document["spec"]["steps"][0]["set"]["big"] = "{{ deal.amount > 2000 }}"
    changed = client.post(f"{API}/import", content=yaml.safe_dump(document), headers=tenant.admin.headers)
    assert changed.status_code == 200 and changed.json()["version"] == 2

    for bad, field in (("apiVersion: v0\nkind: Flow\nmetadata: {name: x}\nspec: {}", "apiVersion"),
                       (f"apiVersion: {API_VERSION}\nkind: Flow\nmetadata: {{name: x}}\nspec:\n  trigger: "
                        "{type: manual}\n  steps:\n  - {id: a, type: http_request}", "spec.steps[0].http_request.url"),
                       ("key: [unclosed", None)):
        response = client.post(f"{API}/import", content=bad, headers=tenant.admin.headers)
        assert response.status_code == 422, bad
        assert response.json()["error"]["code"] == "INVALID_FLOW_DOCUMENT"
        assert response.json()["error"]["details"]["field"] == field
    unclosed = client.post(f"{API}/import", content="key: [unclosed", headers=tenant.admin.headers)
    assert "line" in unclosed.json()["error"]["message"]
    assert client.post(f"{API}/import", content=exported.text, headers=tenant.viewer.headers).status_code == 403


def test_another_organization_cannot_see_or_touch_flows(flows_client, flows_settings, tenant, other_tenant,
                                                       owner_session):
    flow = create_flow(flows_client, tenant, trigger={"type": "webhook"},
                       steps=[{"id": "a", "type": "transform", "set": {"x": 1}}])
    flows_client.post(f"{API}/{flow['id']}/run", headers=tenant.admin.headers)
    assert run_queued(flows_settings, owner_session, tenant) == ["succeeded"]
    (execution,) = executions_of(flows_client, tenant, flow["id"])
    stranger = other_tenant.admin.headers
    base = f"{API}/{flow['id']}"
    body = {"name": "mine", "trigger": {"type": "manual"}, "steps": [{"id": "a", "type": "transform",
                                                                      "set": {"x": 1}}]}
    calls = [("get", base, None), ("put", base, body), ("delete", base, None), ("post", f"{base}/enable", None),
             ("post", f"{base}/disable", None), ("post", f"{base}/run", None),
             ("post", f"{base}/rotate-hook-token", None), ("get", f"{base}/executions", None),
             ("get", f"{base}/executions/{execution['id']}", None), ("get", f"{base}/export", None)]
    for method, url, payload in calls:
        kwargs = {"json": payload} if payload is not None else {}
        response = flows_client.request(method.upper(), url, headers=stranger, **kwargs)
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["success"] is False
    listed = flows_client.get(API, headers=stranger).json()
    assert listed["data"] == [] and listed["pagination"]["total"] == 0
    # an execution id under another organization's own flow is not found either
    theirs = create_flow(flows_client, other_tenant, trigger={"type": "manual"},
                         steps=[{"id": "a", "type": "transform", "set": {"x": 1}}])
    assert flows_client.get(f"{API}/{theirs['id']}/executions/{execution['id']}",
                            headers=stranger).status_code == 404
    # their record events never start our flows
    mine = create_flow(flows_client, tenant, trigger={"type": "record_change", "event": "deal.created"},
                       steps=[{"id": "a", "type": "transform", "set": {"x": 1}}])
    made = flows_client.post("/api/v1/deals", json={"name": "Theirs"}, headers=other_tenant.user.headers)
    assert made.status_code == 201
    other_tenant.deliver_events()
    tenant.deliver_events()
    assert queued_jobs(owner_session, tenant) == [] and executions_of(flows_client, tenant, mine["id"]) == []
    # nothing of ours changed
    assert flows_client.get(base, headers=tenant.admin.headers).json()["enabled"] is True

"""Flows end to end: a record change (a real API update → domain event → the automations subscriber) starts a flow
that calls a real local HTTP endpoint with `{{deal.name}}` mapped in; condition, loop and transform; a failing step
retried per its config and then failing the execution; records created and updated through their services; the
SSRF guard; a missing variable as a clear step error; the cron scheduler on a pinned clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from serving.automations import executions, jobs
from serving.automations import flows as automation_flows
from serving.core import queue
from serving.core.db import session_factory
from tests.factories import unique_email
from tests.serving.automations.conftest import (
    API,
    create_flow,
    execution_detail,
    executions_of,
    queued_jobs,
    run_queued,
)


def _deal(client, tenant, **fields) -> dict:
    response = client.post("/api/v1/deals", json={"name": "Acme renewal", "amount": 4200, **fields},
                           headers=tenant.user.headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_deal_stage_change_starts_a_flow_that_calls_a_local_endpoint(
        flows_client, flows_settings, tenant, endpoint, owner_session):
    flow = create_flow(flows_client, tenant, trigger={
        "type": "record_change", "event": "deal.stage_changed", "filter": {"toStage": ["negotiation", "proposal"]}},
        steps=[{"id": "notify_crm", "type": "http_request", "url": endpoint.url("/deals"),
                "headers": {"X-Flow": "{{execution.flowId}}"},
                "body": {"name": "{{deal.name}}", "amount": "{{deal.amount}}", "stage": "{{trigger.toStage}}",
                         "summary": "{{deal.name}} moved to {{trigger.toStage}}"}}])
    deal = _deal(flows_client, tenant)
    tenant.deliver_events()  # deal.created: not this flow's event
    assert queued_jobs(owner_session, tenant) == []
    moved = flows_client.put(f"/api/v1/deals/{deal['id']}", json={"stage": "discovery"},
                             headers=tenant.user.headers)
    assert moved.status_code == 200, moved.text
    tenant.deliver_events()
    assert queued_jobs(owner_session, tenant) == []  # filtered out: discovery is not in the filter
    flows_client.put(f"/api/v1/deals/{deal['id']}", json={"stage": "negotiation"}, headers=tenant.user.headers)
    tenant.deliver_events()
    tenant.deliver_events()  # delivered twice (at least once): still one execution
    (queued,) = executions_of(flows_client, tenant, flow["id"])
    assert queued["status"] == "queued" and queued["triggerType"] == "record_change"
    assert queued["triggerPayload"]["dealId"] == deal["id"] and queued["sourceEventId"]

    assert run_queued(flows_settings, owner_session, tenant) == ["succeeded"]
    (got,) = endpoint.received
    assert got["method"] == "POST" and got["path"] == "/deals"
    assert got["json"] == {"name": "Acme renewal", "amount": 4200.0, "stage": "negotiation",
                           "summary": "Acme renewal moved to negotiation"}
    assert got["headers"]["x-flow"] == flow["id"]
    detail = execution_detail(flows_client, tenant, flow["id"], queued["id"])
    assert detail["status"] == "succeeded" and detail["finishedAt"] and detail["flowVersion"] == 1
    (entry,) = detail["log"]
    assert (entry["stepId"], entry["type"], entry["attempt"], entry["path"]) == (
        "notify_crm", "http_request", 1, "steps[0]")
    assert entry["input"]["body"]["name"] == "Acme renewal"
    assert entry["output"]["status"] == 200 and entry["output"]["body"] == {"ok": True, "seen": 1}
    assert "error" not in entry and entry["durationMs"] >= 0
    # run again by a retried job: a finished execution is not run twice
    assert executions.run(factory=session_factory(flows_settings.api_database_url), settings=flows_settings,
                          organization_id=tenant.organization_id, execution_id=queued["id"]) == "succeeded"
    assert len(endpoint.received) == 1


def test_condition_loop_and_transform(flows_client, flows_settings, tenant, endpoint, owner_session):
    flow = create_flow(flows_client, tenant, trigger={"type": "manual"}, steps=[
        {"id": "prep", "type": "transform",
         "set": {"total": "{{ trigger.lines | map(attribute='amount') | sum }}", "label": "order {{trigger.ref}}"}},
        {"id": "big", "type": "condition", "if": "vars.total > 100",
         "then": [{"id": "each", "type": "loop", "over": "trigger.lines", "as": "line", "maxItems": 5, "steps": [
             {"id": "post_line", "type": "http_request", "url": endpoint.url("/lines"),
              "body": {"sku": "{{line.sku}}", "n": "{{loop.index}}", "of": "{{vars.label}}"}}]}],
         "else": [{"id": "small", "type": "transform", "set": {"skipped": True}}]},
    ])
    lines = [{"sku": "A", "amount": 80}, {"sku": "B", "amount": 30}, {"sku": "C", "amount": 5}]
    ran = flows_client.post(f"{API}/{flow['id']}/run", json={"payload": {"ref": "R-1", "lines": lines}},
                            headers=tenant.admin.headers)
    assert ran.status_code == 202, ran.text
    small = flows_client.post(f"{API}/{flow['id']}/run", json={"payload": {"ref": "R-2", "lines": lines[2:]}},
                              headers=tenant.admin.headers)
    assert run_queued(flows_settings, owner_session, tenant) == ["succeeded", "succeeded"]
    assert [r["json"] for r in endpoint.received] == [
        {"sku": "A", "n": 0, "of": "order R-1"}, {"sku": "B", "n": 1, "of": "order R-1"},
        {"sku": "C", "n": 2, "of": "order R-1"}]
    big = execution_detail(flows_client, tenant, flow["id"], ran.json()["id"])
    assert [(e["path"], e.get("iteration")) for e in big["log"]] == [
        ("steps[0]", None), ("steps[1]", None), ("steps[1].then[0]", None),
        ("steps[1].then[0].steps[0]", 0), ("steps[1].then[0].steps[0]", 1), ("steps[1].then[0].steps[0]", 2)]
    assert big["log"][0]["output"] == {"total": 115, "label": "order R-1"}  # a whole `{{…}}` keeps its type
    assert big["log"][1]["output"] == {"branch": "then"}
    assert big["log"][2]["input"] == {"over": "trigger.lines", "count": 3}
    other = execution_detail(flows_client, tenant, flow["id"], small.json()["id"])
    assert [(e["path"], e["output"]) for e in other["log"]] == [
        ("steps[0]", {"total": 5, "label": "order R-2"}), ("steps[1]", {"branch": "else"}),
        ("steps[1].else[0]", {"skipped": True})]
    assert len(endpoint.received) == 3  # the small order called nothing


def test_a_failing_step_is_retried_then_fails_the_execution(flows_client, flows_settings, tenant, endpoint,
                                                            owner_session):
    flow = create_flow(flows_client, tenant, trigger={"type": "manual"}, steps=[
        {"id": "call", "type": "http_request", "url": endpoint.url(), "body": {"x": 1},
         "retry": {"maxAttempts": 3, "backoffSeconds": 2}},
        {"id": "after", "type": "transform", "set": {"never": True}},
    ])
    waits: list[float] = []
    endpoint.script = [500, 503, 502]
    flows_client.post(f"{API}/{flow['id']}/run", headers=tenant.admin.headers)
    (execution_id,) = queued_jobs(owner_session, tenant)
    assert run_queued(flows_settings, owner_session, tenant, sleep=waits.append) == ["failed"]
    assert len(endpoint.received) == 3 and waits == [2, 4]  # backoff doubles between attempts
    detail = execution_detail(flows_client, tenant, flow["id"], execution_id)
    assert detail["status"] == "failed" and detail["runs"] == 1
    assert [(e["stepId"], e["attempt"], e["maxAttempts"]) for e in detail["log"]] == [
        ("call", 1, 3), ("call", 2, 3), ("call", 3, 3)]
    assert [e["error"].split(":")[0] for e in detail["log"]] == [
        "HTTP 500 from 127.0.0.1", "HTTP 503 from 127.0.0.1", "HTTP 502 from 127.0.0.1"]
    assert detail["error"].startswith("steps[0]: HTTP 502")

    # a receiver that recovers on the second attempt: the log shows both, the run succeeds
    endpoint.received.clear()
    endpoint.script = [500]
    flows_client.post(f"{API}/{flow['id']}/run", headers=tenant.admin.headers)
    assert run_queued(flows_settings, owner_session, tenant) == ["succeeded"]
    latest = executions_of(flows_client, tenant, flow["id"])[0]
    detail = execution_detail(flows_client, tenant, flow["id"], latest["id"])
    assert [(e["stepId"], e["attempt"], "error" in e) for e in detail["log"]] == [
        ("call", 1, True), ("call", 2, False), ("after", 1, False)]


def test_a_missing_variable_is_a_clear_step_error_not_retried(flows_client, flows_settings, tenant, endpoint,
                                                             owner_session):
    flow = create_flow(flows_client, tenant, trigger={"type": "manual"}, steps=[
        {"id": "call", "type": "http_request", "url": endpoint.url(), "body": {"name": "{{deal.name}}"},
         "retry": {"maxAttempts": 3}}])
    flows_client.post(f"{API}/{flow['id']}/run", headers=tenant.admin.headers)
    assert run_queued(flows_settings, owner_session, tenant) == ["failed"]
    (entry,) = execution_detail(flows_client, tenant, flow["id"],
                                executions_of(flows_client, tenant, flow["id"])[0]["id"])["log"]
    assert entry["attempt"] == 1 and "'deal' is undefined" in entry["error"]
    assert entry["error"].startswith("mapping failed")
    assert endpoint.received == []


def test_http_requests_are_ssrf_guarded_and_do_not_follow_redirects(client, settings, flows_client, flows_settings,
                                                                    tenant, endpoint, owner_session):
    # the default installation (FLOWS_ALLOW_PRIVATE_TARGETS off) refuses loopback and metadata addresses
    flow = create_flow(client, tenant, trigger={"type": "manual"}, steps=[
        {"id": "local", "type": "http_request", "url": endpoint.url()}])
    client.post(f"{API}/{flow['id']}/run", headers=tenant.admin.headers)
    assert run_queued(settings, owner_session, tenant) == ["failed"]
    (entry,) = execution_detail(client, tenant, flow["id"], executions_of(client, tenant, flow["id"])[0]["id"])["log"]
    assert "refused" in entry["error"] and "loopback" in entry["error"]
    assert endpoint.received == []
    meta = create_flow(flows_client, tenant, trigger={"type": "manual"}, steps=[
        {"id": "meta", "type": "http_request", "method": "GET", "url": "http://169.254.169.254/latest/meta-data"}])
    flows_client.post(f"{API}/{meta['id']}/run", headers=tenant.admin.headers)
    assert run_queued(flows_settings, owner_session, tenant) == ["failed"]  # metadata: refused even when allowed
    redirect = create_flow(flows_client, tenant, trigger={"type": "manual"}, steps=[
        {"id": "moved", "type": "http_request", "url": endpoint.url("/old")}])
    endpoint.script = [302]
    flows_client.post(f"{API}/{redirect['id']}/run", headers=tenant.admin.headers)
    assert run_queued(flows_settings, owner_session, tenant) == ["failed"]
    assert [r["path"] for r in endpoint.received] == ["/old"]  # /elsewhere never called


def test_records_email_and_notification_through_their_services(flows_client, flows_settings, tenant,
                                                               owner_session):
    email = unique_email("flow")
    flow = create_flow(flows_client, tenant, trigger={"type": "webhook"}, steps=[
        {"id": "account", "type": "create_record", "entity": "accounts",
         "fields": {"name": "{{trigger.company}}", "domain": "{{trigger.domain}}"}},
        {"id": "lead", "type": "create_record", "entity": "prospects",
         "fields": {"email": email, "firstName": "{{trigger.first}}", "accountId": "{{steps.account.id}}"}},
        {"id": "qualify", "type": "update_record", "entity": "prospects", "recordId": "{{steps.lead.id}}",
         "fields": {"status": "qualified"}},
        {"id": "welcome", "type": "send_email", "to": "{{steps.lead.email}}", "subject": "Hello {{trigger.first}}",
         "text": "Welcome from {{trigger.company}}"},
        {"id": "ping", "type": "send_notification", "userId": str(tenant.admin.id),
         "title": "New lead {{steps.lead.email}}", "priority": "high"},
    ])
    hook = flow["hookUrl"].split("/api/v1", 1)[1]
    accepted = flows_client.post(f"/api/v1{hook}", json={"company": "Globex", "domain": "globex-flow.example",
                                                        "first": "Hank"})
    assert accepted.status_code == 202, accepted.text
    assert run_queued(flows_settings, owner_session, tenant) == ["succeeded"]
    detail = execution_detail(flows_client, tenant, flow["id"], accepted.json()["executionId"])
    assert [e["stepId"] for e in detail["log"]] == ["account", "lead", "qualify", "welcome", "ping"]
    prospect = flows_client.get(f"/api/v1/prospects/{detail['log'][1]['output']['id']}",
                                headers=tenant.user.headers).json()
    assert prospect["email"] == email and prospect["status"] == "qualified" and prospect["firstName"] == "Hank"
    assert prospect["accountId"] == detail["log"][0]["output"]["id"]
    assert detail["log"][2]["output"]["changed"] == ["status"]
    owner_session.rollback()
    queued = owner_session.execute(text("select subject, status from app.emails where id = :i"),
                                   {"i": detail["log"][3]["output"]["emailId"]}).one()
    assert tuple(queued) == ("Hello Hank", "queued")
    notes = flows_client.get("/api/v1/notifications", headers=tenant.admin.headers).json()["data"]
    assert any(n["title"] == f"New lead {email}" and n["priority"] == "high" for n in notes)
    # the domain's own rules still apply: a second run is a duplicate account domain, a clear step error
    flows_client.post(f"/api/v1{hook}", json={"company": "Globex", "domain": "globex-flow.example", "first": "H"})
    assert run_queued(flows_settings, owner_session, tenant) == ["failed"]
    latest = executions_of(flows_client, tenant, flow["id"])[0]
    (entry,) = execution_detail(flows_client, tenant, flow["id"], latest["id"])["log"]
    assert entry["error"].startswith("DUPLICATE_DOMAIN")


def test_schedule_flows_run_when_their_cron_time_comes(flows_client, flows_settings, tenant, owner_session):
    flow = create_flow(flows_client, tenant, trigger={"type": "schedule", "cron": "*/15 * * * *"},
                       steps=[{"id": "tick", "type": "transform", "set": {"at": "{{trigger.scheduledAt}}"}}])
    due = datetime.fromisoformat(flow["nextRunAt"])
    assert due > datetime.now(UTC) and due.minute % 15 == 0 and due.second == 0
    factory = session_factory(flows_settings.api_database_url)
    assert executions.schedule_due(factory=factory, now=due - timedelta(seconds=1)) == 0
    assert executions.schedule_due(factory=factory, now=due + timedelta(seconds=5)) >= 1
    assert executions.schedule_due(factory=factory, now=due + timedelta(seconds=6)) == 0  # moved on: once
    (execution,) = executions_of(flows_client, tenant, flow["id"])
    assert execution["triggerType"] == "schedule"
    assert datetime.fromisoformat(execution["triggerPayload"]["scheduledAt"]) == due
    after = flows_client.get(f"{API}/{flow['id']}", headers=tenant.viewer.headers).json()
    assert datetime.fromisoformat(after["nextRunAt"]) == due + timedelta(minutes=15)
    assert run_queued(flows_settings, owner_session, tenant) == ["succeeded"]
    # disabled: no next time, never queued
    flows_client.post(f"{API}/{flow['id']}/disable", headers=tenant.admin.headers)
    assert flows_client.get(f"{API}/{flow['id']}", headers=tenant.viewer.headers).json()["nextRunAt"] is None
    executions.schedule_due(factory=factory, now=due + timedelta(days=1))
    assert len(executions_of(flows_client, tenant, flow["id"])) == 1


def test_the_worker_jobs_are_registered_and_run_an_execution(flows_client, flows_settings, tenant, endpoint,
                                                             owner_session):
    assert "serving.automations.jobs" in queue.TASK_MODULES
    assert jobs.execute.name == executions.EXECUTE_TASK and jobs.execute.retry_strategy.max_attempts == 3
    flow = create_flow(flows_client, tenant, trigger={"type": "manual"}, steps=[
        {"id": "call", "type": "http_request", "method": "PUT", "url": endpoint.url("/job")}])
    ran = flows_client.post(f"{API}/{flow['id']}/run", json={"payload": {"a": 1}}, headers=tenant.admin.headers)
    queue.configure(flows_settings)  # what the worker does at start
    try:
        assert jobs.execute(str(tenant.organization_id), ran.json()["id"]) == "succeeded"  # the job's body
    finally:
        queue._runtime = None
    assert [(r["method"], r["path"]) for r in endpoint.received] == [("PUT", "/job")]
    detail = execution_detail(flows_client, tenant, flow["id"], ran.json()["id"])
    assert detail["runs"] == 1 and detail["startedAt"] <= detail["finishedAt"]


def test_a_flow_feeding_its_own_trigger_is_switched_off(flows_client, flows_settings, tenant, owner_session,
                                                        monkeypatch):
    monkeypatch.setattr(automation_flows, "MAX_STARTS_PER_MINUTE", 3)
    flow = create_flow(flows_client, tenant, trigger={"type": "record_change", "event": "deal.created"}, steps=[
        {"id": "again", "type": "create_record", "entity": "deals", "fields": {"name": "copy of {{deal.name}}"}}])
    _deal(flows_client, tenant, name="Seed")
    for _ in range(6):  # the worker's rounds: events delivered, executions run (each makes another deal)
        tenant.deliver_events()
        run_queued(flows_settings, owner_session, tenant)
    stopped = flows_client.get(f"{API}/{flow['id']}", headers=tenant.viewer.headers).json()
    assert stopped["enabled"] is False and "feed its own trigger" in stopped["disabledReason"]
    assert len(executions_of(flows_client, tenant, flow["id"])) == 3
    names = [d["name"] for d in flows_client.get("/api/v1/deals", params={"limit": 100},
                                                 headers=tenant.admin.headers).json()["data"]]
    assert sorted(names) == ["Seed", "copy of Seed", "copy of copy of Seed", "copy of copy of copy of Seed"]
    enabled = flows_client.post(f"{API}/{flow['id']}/enable", headers=tenant.admin.headers).json()
    assert enabled["enabled"] is True and enabled["disabledReason"] is None

"""What the flow tests share: the app with FLOWS_ALLOW_PRIVATE_TARGETS on (the local HTTP endpoint a flow calls is
on 127.0.0.1), a recording local HTTP server that answers from a script, and helpers that run the worker's jobs
(event delivery, then the execution job's body) as the worker would."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from serving.automations import executions
from serving.core.db import session_factory
from serving.main import create_app
from tests.conftest import make_settings
from tests.local_http import QuietHandler, serving

API = "/api/v1/flows"


@dataclass
class Endpoint:
    port: int = 0
    script: list[int] = field(default_factory=list)  # statuses to answer, in order; then 200
    received: list[dict] = field(default_factory=list)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def endpoint():
    state = Endpoint()

    class Handler(QuietHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length) if length else b""
            state.received.append({"method": self.command, "path": self.path,
                                   "headers": {k.lower(): v for k, v in self.headers.items()},
                                   "json": json.loads(body) if body else None})
            status = state.script.pop(0) if state.script else 200
            if status in (301, 302):
                self.send_json(status, {}, headers={"Location": f"http://127.0.0.1:{state.port}/elsewhere"})
                return
            self.send_json(status, {"ok": 200 <= status < 300, "seen": len(state.received)})

        do_POST = do_GET = do_PUT = _answer

    with serving(Handler) as server:
        state.port = server.server_port
        yield state


@pytest.fixture(scope="session")
def flows_settings(database, state_dir):
    return make_settings(database, state_dir, FLOWS_ALLOW_PRIVATE_TARGETS="true")


@pytest.fixture(scope="session")
def flows_client(flows_settings):
    with TestClient(create_app(flows_settings)) as test_client:
        yield test_client


def create_flow(client, tenant, **spec) -> dict:
    body = {"name": f"flow-{uuid.uuid4().hex[:8]}", "enabled": True, **spec}
    response = client.post(API, json=body, headers=tenant.admin.headers)
    assert response.status_code == 201, response.text
    return response.json()


def queued_jobs(owner_session, tenant) -> list[str]:
    """The execution ids waiting for the worker for this tenant."""
    owner_session.rollback()
    return list(owner_session.execute(text(
        "select args ->> 'execution_id' from procrastinate.procrastinate_jobs where task_name = :t"
        " and args ->> 'organization_id' = :o and status = 'todo' order by id"),
        {"t": executions.EXECUTE_TASK, "o": str(tenant.organization_id)}).scalars())


def run_queued(settings, owner_session, tenant, sleep=lambda seconds: None) -> list[str | None]:
    """Run every queued execution job's body for the tenant (and mark the jobs done, as the worker would)."""
    statuses = []
    for execution_id in queued_jobs(owner_session, tenant):
        statuses.append(executions.run(factory=session_factory(settings.api_database_url), settings=settings,
                                       organization_id=tenant.organization_id,
                                       execution_id=uuid.UUID(execution_id), sleep=sleep))
        owner_session.execute(text("update procrastinate.procrastinate_jobs set status = 'succeeded'"
                                   " where args ->> 'execution_id' = :e"), {"e": execution_id})
        owner_session.commit()
    return statuses


def executions_of(client, tenant, flow_id: str) -> list[dict]:
    response = client.get(f"{API}/{flow_id}/executions", headers=tenant.viewer.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def execution_detail(client, tenant, flow_id: str, execution_id: str) -> dict:
    response = client.get(f"{API}/{flow_id}/executions/{execution_id}", headers=tenant.viewer.headers)
    assert response.status_code == 200, response.text
    return response.json()

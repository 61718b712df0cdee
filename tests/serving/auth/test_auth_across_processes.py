"""Two API processes against one database (as `revorc up` runs several): a key revoked through one is refused by
both at once, and a demoted admin loses admin rights in both at once — no process caches keys, users or roles.

Real processes (`revorc.processes.api_process`, the command `revorc up` starts) on two ports, so each request
is known to reach the process it names; real Postgres.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from revorc.processes import Process, api_process, start, stop
from serving.core.config import APP_ROLE
from serving.prospects.models import Prospect
from serving.users.models import User
from tests.conftest import TEST_JWT_SECRET, make_settings
from tests.factories import unique_email
from tests.pg import as_role


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def two_api_processes(settings, state_dir, monkeypatch) -> Iterator[list[httpx.Client]]:
    owner_url = settings.owner_database_url
    env = {"REVORC_ENV": "test", "DATABASE_URL": owner_url, "APP_DATABASE_URL": as_role(owner_url, APP_ROLE),
           "JWT_SECRET": TEST_JWT_SECRET, "RATE_LIMIT_AUTH": "10000/minute", "RATE_LIMIT_GENERAL": "100000/hour",
           "DB_POOL_SIZE": "2", "API_WORKERS": "1"}
    for name, value in env.items():  # the children's environment (revorc.processes.service_env copies ours)
        monkeypatch.setenv(name, value)
    process_settings = make_settings(owner_url, state_dir, DB_POOL_SIZE=2, API_WORKERS=1)
    processes: list[Process] = [api_process(process_settings, "127.0.0.1", _free_port()) for _ in range(2)]
    start(processes, process_settings)
    clients = [httpx.Client(base_url=p.url, timeout=10) for p in processes]
    try:
        deadline = time.monotonic() + 90
        for process, client in zip(processes, clients, strict=True):
            while True:
                assert process.popen.poll() is None, f"API process exited with {process.popen.returncode}"
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "API process did not answer /healthz within 90 s"
                time.sleep(0.2)
        yield clients
    finally:
        for client in clients:
            client.close()
        stop(processes)


def test_a_revoked_key_is_refused_by_every_process_at_once(two_api_processes, tenant):
    first, second = two_api_processes
    prospect = tenant.add(Prospect, email=unique_email("both"), team_id=tenant.team_id)
    created = first.post("/api/v1/api-keys", json={"name": "shared", "scopes": ["prospects:read"]},
                         headers=tenant.user.headers)
    assert created.status_code == 201, created.text
    key = {"X-API-Key": created.json()["key"]}
    for api in (first, second):  # the fast read path and the ordinary one, in each process
        assert api.get(f"/api/v1/prospects/{prospect.id}", headers=key).status_code == 200
        assert api.get("/api/v1/prospects", headers=key).status_code == 200

    assert second.delete(f"/api/v1/api-keys/{created.json()['id']}", headers=tenant.user.headers).status_code == 200
    for api in (first, second):
        for path in (f"/api/v1/prospects/{prospect.id}", "/api/v1/prospects"):
            response = api.get(path, headers=key)
            assert response.status_code == 401, (api.base_url, path, response.text)
            assert response.json()["error"]["code"] == "API_KEY_REVOKED"


def test_a_demoted_admin_loses_admin_rights_in_every_process_at_once(two_api_processes, tenant, owner_session):
    first, second = two_api_processes
    prospect = tenant.add(Prospect, email=unique_email("both"), team_id=tenant.team_id)
    for api in (first, second):  # an admin-only route, and a write the viewer role cannot make
        assert api.get("/api/v1/domain-events", headers=tenant.admin.headers).status_code == 200

    owner_session.get(User, tenant.admin.id).role = "viewer"
    owner_session.commit()
    for api in (first, second):
        refused = api.get("/api/v1/domain-events", headers=tenant.admin.headers)
        assert refused.status_code == 403, (api.base_url, refused.text)
        assert refused.json()["error"]["code"] == "INSUFFICIENT_ROLE"
        write = api.post("/api/v1/prospects", json={"email": unique_email()}, headers=tenant.admin.headers)
        assert write.status_code == 403 and write.json()["error"]["code"] == "INSUFFICIENT_ROLE"
        assert api.get(f"/api/v1/prospects/{prospect.id}", headers=tenant.admin.headers).status_code == 200

    owner_session.get(User, tenant.admin.id).is_active = False
    owner_session.commit()
    for api in (first, second):
        response = api.get(f"/api/v1/prospects/{prospect.id}", headers=tenant.admin.headers)
        assert response.status_code == 401 and response.json()["error"]["code"] == "INVALID_TOKEN"

"""With REDIS_URL set, rate-limit counters live in a real Redis and are shared by every API process."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from serving.main import create_app
from tests.conftest import make_settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is required (make test installs Debian's redis-server)"
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path_factory.mktemp("redis"))],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    yield url
    process.terminate()
    process.wait(10)


def test_two_api_processes_share_one_limit_through_redis(redis_url, settings, state_dir, tenant):
    tight = make_settings(settings.owner_database_url, state_dir, REDIS_URL=redis_url,
                          RATE_LIMIT_GENERAL="5/hour")
    with TestClient(create_app(tight)) as first, TestClient(create_app(tight)) as second:
        statuses = []
        for client in (first, second, first, second, first):
            response = client.get("/api/v1/prospects", headers=tenant.user.headers)
            statuses.append(response.status_code)
            assert response.headers["x-ratelimit-limit"] == "5"
        assert statuses == [200] * 5
        # the sixth call, on either process, is over the shared limit
        blocked = second.get("/api/v1/prospects", headers=tenant.user.headers)
        assert blocked.status_code == 429
        assert blocked.json()["error"]["code"] == "RATE_LIMITED"
        # another user has a budget of their own
        assert first.get("/api/v1/prospects", headers=tenant.admin.headers).status_code == 200
    keys = redis.Redis.from_url(redis_url).keys("*")
    assert keys, "the counters were stored in Redis"

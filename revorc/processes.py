"""Start the platform's long-running processes (API, and later workers and UIs) and supervise them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from serving.core.config import Settings


@dataclass
class Process:
    name: str
    args: list[str]
    url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen | None = None


def service_env(settings: Settings) -> dict[str, str]:
    """Environment for child processes: where the state lives and how to reach the services."""
    env = dict(os.environ)
    env["REVORC_HOME"] = str(settings.home)
    env.setdefault("DATABASE_URL", settings.owner_database_url)
    env.setdefault("DAGSTER_HOME", str(settings.home / "dagster"))
    typesense = settings.typesense
    if typesense:
        env.setdefault("TYPESENSE_URL", typesense[0])
        env.setdefault("TYPESENSE_API_KEY", typesense[1])
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def api_process(settings: Settings, host: str, port: int) -> Process:
    return Process(
        name="api",
        # Several processes share the port (uvicorn's supervisor); each has its own pool and model cache, while
        # rate limits count in Redis when REDIS_URL is set (per process otherwise) — docs/performance.md.
        args=[sys.executable, "-m", "uvicorn", "serving.main:create_app", "--factory",
              "--host", host, "--port", str(port), "--proxy-headers", "--workers", str(settings.api_workers)],
        url=f"http://{host}:{port}",
    )


def start(processes: list[Process], settings: Settings) -> None:
    env = service_env(settings)
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for process in processes:
        log = (logs / f"{process.name}.log").open("ab")
        process.popen = subprocess.Popen(process.args, env={**env, **process.env}, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)


def _signal_group(process: Process, signum: int) -> None:
    # Each process leads its own session; signal the group so its children (e.g. Dagster's
    # code servers) stop with it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.popen.pid, signum)


def stop(processes: list[Process]) -> None:
    for process in processes:
        if process.popen and process.popen.poll() is None:
            _signal_group(process, signal.SIGTERM)
    for process in processes:
        if process.popen:
            try:
                process.popen.wait(15)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
            _signal_group(process, signal.SIGTERM)


def supervise(processes: list[Process], settings: Settings, console: Console) -> int:
    """Wait until Ctrl-C, SIGTERM or until one process dies; then stop the others."""
    stopping = False

    def _signal(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _signal)
    signal.signal(signal.SIGINT, _signal)  # explicit: a background start hands SIGINT over ignored
    exit_code = 0
    try:
        while not stopping:
            for process in processes:
                if process.popen and process.popen.poll() is not None:
                    console.print(f"[red]{process.name} exited with code {process.popen.returncode}; "
                                  f"see {log_path(settings, process.name)}[/red]")
                    stopping, exit_code = True, 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        console.print("\nStopping…")
        stop(processes)
    return exit_code


def run_supervised(processes: list[Process], settings: Settings, console: Console) -> int:
    start(processes, settings)
    return supervise(processes, settings, console)


def log_path(settings: Settings, name: str) -> Path:
    return settings.home / "logs" / f"{name}.log"

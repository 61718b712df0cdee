"""Drive Debian's `wrk` (a C load generator, so the client does not compete with the server for Python's lock)
and read its figures; and serve an app with uvicorn in a child process for the duration of a measurement."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx answers plus socket errors

    def describe(self) -> str:
        errors = f", {self.errors:,} errors" if self.errors else ""
        return (f"{self.requests_per_second:,.0f} req/s, p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms"
                f"{errors}")


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * UNITS[unit]


def parse(output: str) -> Load:
    """wrk's `--latency` report → Load."""
    per_second = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        errors += sum(int(g) for g in match.groups())
    return Load(per_second, p50, p99, requests, errors)


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("this benchmark drives `wrk`: install it (`apt-get install wrk`, or `make bench`)")
    return path


def run_wrk(url: str, *, connections: int, seconds: float, threads: int = 2, headers: dict[str, str] | None = None,
            method: str = "GET", body: str | None = None) -> Load:
    args = [require_wrk(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
            "--timeout", "10s"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        if method != "GET" or body is not None:
            # wrk's documented request table: method and body for every request of this run
            script.write(f'wrk.method = "{method}"\n')
            if body is not None:
                script.write(f"wrk.body = [==[{body}]==]\n")
    try:
        if method != "GET" or body is not None:
            args += ["-s", script.name]
        output = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    return parse(output)


class Served(str):
    """The base URL of an app served by `uvicorn()`, with the pid of the process serving it."""

    pid: int


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by `pid` and its live descendants (uvicorn's worker processes).

    A server's CPU per request does not depend on what else the machine runs, unlike its requests/s, which on a
    shared machine follow everyone else's load."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        # after the command: state, ppid, …; utime and stime are fields 14 and 15 of the whole line
        children.setdefault(int(fields[1]), []).append(int(entry))
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        total += times.get(current, 0.0)
        stack.extend(children.get(current, ()))
    return total


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def uvicorn(app: str, *, env: dict[str, str], workers: int = 1, factory: bool = False,
            health: str = "/healthz") -> Iterator[Served]:
    """Serve `module:app` on a free local port in a child process; yields its base URL (with the server's pid)
    once `health` answers."""
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--workers",
            str(workers), "--log-level", "warning", "--no-access-log"]
    if factory:
        args.append("--factory")
    process = subprocess.Popen(args, env={**os.environ, **env}, start_new_session=True)
    base = Served(f"http://127.0.0.1:{port}")
    base.pid = process.pid
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{app} exited with code {process.returncode} before answering")
            try:
                if httpx.get(base + health, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{app} did not answer {health} within 90 s")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()

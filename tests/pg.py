"""A real PostgreSQL for the test session: the embedded server, or TEST_DATABASE_URL's server.

Databases are cloned from a migrated template, so a test that needs an empty database gets one in
a fraction of a second.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import uuid
from pathlib import Path
from typing import IO

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from revorc.services import start_postgres, stop_postgres
from serving.core.migrate import upgrade

TEST_TUNING = {"shared_buffers": "256MB", "work_mem": "16MB", "maintenance_work_mem": "128MB",
               "max_connections": "300", "fsync": "off", "synchronous_commit": "off",
               "full_page_writes": "off"}


class TestPostgres:
    def __init__(self, root: Path, worker: str) -> None:
        self.worker = worker
        self._lock: IO | None = None
        self.pgdata: str | None = None
        self.pid: int | None = None
        configured = os.environ.get("TEST_DATABASE_URL")
        if configured:
            self.base = make_url(configured.replace("postgresql://", "postgresql+psycopg://", 1))
        else:
            home, self._lock = _claim(root, worker)
            url, self.pid, self.pgdata = start_postgres(home, tuning=TEST_TUNING)
            self.base = make_url(url)
        self.admin = create_engine(self.base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        self.template = f"revorc_template_{worker}"
        self._recreate(self.template)
        upgrade(self.url(self.template))
        with self.admin.connect() as conn:
            # a template must have no open connections when it is cloned
            conn.execute(
                text("select pg_terminate_backend(pid) from pg_stat_activity where datname = :name "
                     "and pid <> pg_backend_pid()"),
                {"name": self.template},
            )

    def url(self, database: str) -> str:
        return self.base.set(database=database).render_as_string(hide_password=False)

    def _recreate(self, name: str, template: str | None = None) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
            suffix = f' template "{template}" strategy file_copy' if template else ""
            conn.execute(text(f'create database "{name}"{suffix}'))

    def clone(self, name: str | None = None) -> str:
        name = name or f"t_{self.worker}_{uuid.uuid4().hex[:10]}"
        self._recreate(name, template=self.template)
        return name

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))

    def close(self) -> None:
        self.admin.dispose()
        if self.pgdata:
            stop_postgres(self.pgdata, self.pid)
        if self._lock:
            self._lock.close()


def _claim(root: Path, worker: str) -> tuple[Path, IO]:
    """A server directory that no other live test session uses.

    Several `pytest` runs on one machine (engineers, CI) would otherwise share one server and stop
    it under each other's feet; the lock is held until the session ends (or its process dies).
    """
    root.mkdir(parents=True, exist_ok=True)
    for n in itertools.count():
        name = f"pg-{worker}" if n == 0 else f"pg-{worker}-{n}"
        handle = (root / f"{name}.lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return root / name, handle
    raise AssertionError("unreachable")


def as_role(url: str, role: str) -> str:
    return make_url(url).set(username=role, password=None).render_as_string(hide_password=False)


__all__ = ["URL", "TestPostgres", "as_role"]

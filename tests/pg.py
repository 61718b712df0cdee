"""A real PostgreSQL for the test session: the embedded server, or TEST_DATABASE_URL's server.

Databases are cloned from a migrated template, so a test that needs an empty database gets one in
a fraction of a second.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

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
        self.pgdata: str | None = None
        self.pid: int | None = None
        configured = os.environ.get("TEST_DATABASE_URL")
        if configured:
            self.base = make_url(configured.replace("postgresql://", "postgresql+psycopg://", 1))
        else:
            url, self.pid, self.pgdata = start_postgres(root / f"pg-{worker}", tuning=TEST_TUNING)
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


def as_role(url: str, role: str) -> str:
    return make_url(url).set(username=role, password=None).render_as_string(hide_password=False)


__all__ = ["URL", "TestPostgres", "as_role"]

"""API-key usage counted in memory and written in batches.

Counting used to cost every keyed request its own transaction with two writes, and every request of one key
queued on that key's row lock. Now a request adds to a per-process counter; a background thread writes the sums
about once a second (one transaction per organization: one UPDATE per key, one upsert per key and day), and so
do reading a key's usage and stopping the API. A process killed outright loses at most its last second of counts.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from serving.core.clock import utcnow
from serving.core.config import Settings
from serving.core.db import session_factory, tenant_session

FLUSH_SECONDS = 1.0
logger = logging.getLogger(__name__)


@dataclass
class _Pending:
    count: int = 0
    last_used: datetime | None = None
    days: dict[date, int] = field(default_factory=lambda: defaultdict(int))


class UsageCounter:
    def __init__(self, factory: sessionmaker[Session], *, interval: float = FLUSH_SECONDS) -> None:
        self._factory = factory
        self._interval = interval
        self._lock = threading.Lock()  # guards _pending
        self._flushing = threading.Lock()  # one writer at a time, so sums are never written twice
        self._pending: dict[tuple[uuid.UUID, uuid.UUID], _Pending] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def count(self, organization_id: uuid.UUID, api_key_id: uuid.UUID) -> None:
        now = utcnow()
        with self._lock:
            pending = self._pending.setdefault((organization_id, api_key_id), _Pending())
            pending.count += 1
            pending.last_used = now
            pending.days[now.date()] += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="api-key-usage", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        """Write every count taken so far; a failed write puts its counts back for the next flush."""
        with self._flushing:
            with self._lock:
                taken, self._pending = self._pending, {}
            by_org: dict[uuid.UUID, list[tuple[uuid.UUID, _Pending]]] = defaultdict(list)
            for (organization_id, api_key_id), pending in taken.items():
                by_org[organization_id].append((api_key_id, pending))
            for organization_id, keys in by_org.items():
                try:
                    self._write(organization_id, keys)
                except Exception:
                    with self._lock:
                        for api_key_id, pending in keys:
                            self._merge_back(organization_id, api_key_id, pending)
                    raise

    def _write(self, organization_id: uuid.UUID, keys: list[tuple[uuid.UUID, _Pending]]) -> None:
        with tenant_session(self._factory, organization_id) as session:
            session.execute(
                text("update app.api_keys set request_count = request_count + :n, "
                     "last_used_at = greatest(last_used_at, :last_used) where id = :id"),
                [{"id": key, "n": p.count, "last_used": p.last_used} for key, p in keys])
            session.execute(
                text("insert into app.api_key_usage_daily (api_key_id, day, organization_id, request_count) "
                     "values (:id, :day, :org, :n) on conflict (api_key_id, day) "
                     "do update set request_count = app.api_key_usage_daily.request_count + excluded.request_count"),
                [{"id": key, "day": day, "org": organization_id, "n": n}
                 for key, p in keys for day, n in sorted(p.days.items())])

    def _merge_back(self, organization_id: uuid.UUID, api_key_id: uuid.UUID, pending: _Pending) -> None:
        current = self._pending.setdefault((organization_id, api_key_id), _Pending())
        current.count += pending.count
        current.last_used = max(filter(None, (current.last_used, pending.last_used)), default=None)
        for day, n in pending.days.items():
            current.days[day] += n

    def _run(self) -> None:
        failing = False
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self.flush()
                failing = False
            except Exception as exc:  # the database is away: the counts wait in memory for the next try
                if not failing:  # once per outage, not once a second
                    logger.warning("API-key usage not written yet (%s); retrying every %.0f s", exc,
                                   self._interval)
                failing = True


POOL_SIZE = 2
_counters: dict[str, UsageCounter] = {}
_counters_lock = threading.Lock()


def counter(settings: Settings) -> UsageCounter:
    """The process's counter for the API's database. Its writes use a pool of their own: the request already
    holds a connection, and waiting for a second one from the same pool deadlocks once every connection is held
    by a request waiting for another."""
    url = settings.api_database_url
    with _counters_lock:
        found = _counters.get(url)
        if found is None:
            found = _counters[url] = UsageCounter(session_factory(url, POOL_SIZE, "api-key-usage"))
        return found


def _flush_at_exit() -> None:
    with _counters_lock:
        counters = list(_counters.values())
    for each in counters:
        with contextlib.suppress(Exception):  # at exit there is nobody left to tell
            each.flush()


atexit.register(_flush_at_exit)

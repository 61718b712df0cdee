"""Search analytics kept in memory and written in batches.

Logging used to cost every search an insert, an upsert of its popular query and a commit, in the request. Now the
API hands each search's record to a per-process log; a background thread writes what has gathered about once a
second, one transaction per organization (bound to that organization, so row-level security checks every row;
two statements however many searches), and so do the reads that need the rows (a click on a search,
suggestions, the analytics) and stopping the process.

Durability: a process killed outright (SIGKILL, power loss) loses at most its last second of analytics. Nothing
else depends on them: the search itself was answered. A click sent to another API process within that second
of its search is refused as an unknown search (404), as it is for any id not logged.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import time
import uuid
from collections import defaultdict

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from serving.core.config import Settings
from serving.core.db import session_factory, tenant_session
from serving.search.service import SearchRecord, write_searches

FLUSH_SECONDS = 1.0
# Searches kept while the database is away; beyond this the oldest are dropped (memory is bounded, analytics are
# not worth an outage of the API)
MAX_PENDING = 100_000
logger = logging.getLogger(__name__)


class SearchLog:
    def __init__(self, factory: sessionmaker[Session], *, interval: float = FLUSH_SECONDS,
                 max_pending: int = MAX_PENDING) -> None:
        self._factory = factory
        self._interval = interval
        self._max_pending = max_pending
        self._lock = threading.Lock()  # guards _pending
        self._flushing = threading.Lock()  # one writer at a time, so no record is written twice
        self._pending: list[SearchRecord] = []
        self._thread: threading.Thread | None = None

    def add(self, record: SearchRecord) -> None:
        """Keep a search's record for the next write (CPU only: safe on the event loop)."""
        with self._lock:
            self._pending.append(record)
            if len(self._pending) > self._max_pending:
                dropped = len(self._pending) - self._max_pending
                del self._pending[:dropped]
                logger.warning("search analytics: %d searches dropped (the database has not taken them)", dropped)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="search-log", daemon=True)
                self._thread.start()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self) -> None:
        """Write every record taken so far; an organization whose write fails gets its records back for the next
        flush (the others are written)."""
        with self._flushing:
            with self._lock:
                if not self._pending:
                    return
                taken, self._pending = self._pending, []
            by_org: dict[uuid.UUID, list[SearchRecord]] = defaultdict(list)
            for record in taken:
                by_org[record.organization_id].append(record)
            failed: list[SearchRecord] = []
            error: Exception | None = None
            for organization_id, records in by_org.items():
                try:
                    with tenant_session(self._factory, organization_id) as session:
                        write_searches(db_session=session, records=records)
                except IntegrityError as exc:  # the organization was deleted since: its searches went with it
                    logger.warning("search analytics: %d searches of organization %s dropped: %s", len(records),
                                   organization_id, exc.orig)
                except Exception as exc:
                    failed += records
                    error = exc
            if failed:
                with self._lock:
                    self._pending[:0] = failed
                raise error

    def _run(self) -> None:
        failing = False
        while True:
            time.sleep(self._interval)
            try:
                self.flush()
                failing = False
            except Exception as exc:  # the database is away: the records wait in memory for the next try
                if not failing:  # once per outage, not once a second
                    logger.warning("search analytics not written yet (%s); retrying every %.0f s", exc,
                                   self._interval)
                failing = True


POOL_SIZE = 2
_logs: dict[str, SearchLog] = {}
_logs_lock = threading.Lock()


def log_for(settings: Settings) -> SearchLog:
    """The process's log for the API's database. Its writes use a pool of their own, so a flush from a request
    (a click, the analytics) never waits for a connection the requests hold."""
    url = settings.api_database_url
    with _logs_lock:
        found = _logs.get(url)
        if found is None:
            found = _logs[url] = SearchLog(session_factory(url, POOL_SIZE, "search-log"))
        return found


def _flush_at_exit() -> None:
    with _logs_lock:
        logs = list(_logs.values())
    for each in logs:
        with contextlib.suppress(Exception):  # at exit there is nobody left to tell
            each.flush()


atexit.register(_flush_at_exit)

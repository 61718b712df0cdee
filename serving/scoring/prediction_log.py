"""The real-time prediction log (`ai_predictions`, source `realtime`), written off the request path in batches.

Writing each prediction with its request cost `POST /scoring/score` a second round trip to the database (the
insert and the commit, after the read), which together with the read's was about a fifth of the request's time
under load. Now a request appends its row to a per-process queue and is answered after its one read; a
background thread writes the queue every `FLUSH_SECONDS` (one transaction per organization, bound to it, so
row-level security checks every row; one `INSERT … SELECT FROM unnest(arrays)` per organization). Each row keeps
the time its request was scored as `created_at`.

Durability, said plainly: a row is in the database within about `FLUSH_SECONDS` of its answer. The queue is
written when the API stops (the app's lifespan, and at interpreter exit); a process killed outright (SIGKILL,
out of memory, power loss) loses the rows of its last `FLUSH_SECONDS`, which is the same promise the API-key usage
counts make (`serving/api_keys/usage.py`). A write that fails (the database away) keeps its rows for the next
flush, however long the database is away, up to `MAX_PENDING` rows per process; past that the oldest are dropped
with an error in the log rather than growing without bound. An organization whose rows the database refuses
`MAX_ATTEMPTS` times in a row (e.g. it was deleted) has those rows dropped with an error, so one bad batch cannot
hold back every other tenant's.

A prospect deleted between the answer and the write is logged with no prospect, as the foreign key's
`ON DELETE SET NULL` would have left a row written before the deletion.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import threading
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import psycopg

from serving.core.config import Settings
from serving.core.db import libpq_url

FLUSH_SECONDS = 0.2
MAX_PENDING = 100_000
MAX_ATTEMPTS = 5
logger = logging.getLogger(__name__)

_INSERT_SQL = """
insert into app.ai_predictions (id, organization_id, prospect_id, prediction_type, model_version, source,
                                inputs_hash, score, ml_score, probability, tier, top_factors, created_at)
select v.id, v.organization_id, p.id, v.prediction_type, v.model_version, 'realtime', v.inputs_hash, v.score,
       v.ml_score, v.probability, v.tier, v.top_factors::jsonb, v.created_at
from unnest(%b::uuid[], %b::uuid[], %b::uuid[], %b::text[], %b::text[], %b::text[], %b::integer[], %b::integer[],
            %b::float8[], %b::text[], %b::text[], %b::timestamptz[])
     as v(id, organization_id, prospect_id, prediction_type, model_version, inputs_hash, score, ml_score,
          probability, tier, top_factors, created_at)
left join app.prospects p on p.id = v.prospect_id
"""


@dataclass(frozen=True)
class Prediction:
    """One real-time prediction as logged."""

    id: uuid.UUID
    organization_id: uuid.UUID
    prospect_id: uuid.UUID | None
    prediction_type: str
    model_version: str
    inputs_hash: str
    score: int
    ml_score: int
    probability: float
    tier: str
    top_factors: list
    created_at: datetime


class PredictionLog:
    def __init__(self, database_url: str, *, interval: float = FLUSH_SECONDS) -> None:
        self._conninfo = libpq_url(database_url)
        self._interval = interval
        self._lock = threading.Lock()  # guards _pending and _attempts
        self._flushing = threading.Lock()  # one writer at a time: a row is never written twice
        self._pending: list[Prediction] = []
        self._attempts: dict[uuid.UUID, int] = defaultdict(int)
        self._conn: psycopg.Connection | None = None
        self._thread: threading.Thread | None = None

    def add(self, prediction: Prediction) -> None:
        """Queue one prediction (CPU only: called on the event loop)."""
        with self._lock:
            self._pending.append(prediction)
            if len(self._pending) > MAX_PENDING:
                dropped = len(self._pending) - MAX_PENDING
                del self._pending[:dropped]
                logger.error("real-time prediction log: %d rows dropped (the database has refused writes for "
                             "too long)", dropped)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
                self._thread.start()

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self) -> None:
        """Write every prediction queued so far; an organization whose write fails keeps its rows for the next
        flush (raising the first error once every organization was tried)."""
        with self._flushing:
            with self._lock:
                taken, self._pending = self._pending, []
            by_org: dict[uuid.UUID, list[Prediction]] = defaultdict(list)
            for prediction in taken:
                by_org[prediction.organization_id].append(prediction)
            failure: Exception | None = None
            for organization_id, rows in by_org.items():
                try:
                    self._write(organization_id, rows)
                    self._attempts.pop(organization_id, None)
                except Exception as exc:
                    failure = failure or exc
                    self._failed(organization_id, rows, exc)
            if failure is not None:
                raise failure

    def close(self) -> None:
        with self._flushing:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None

    def _failed(self, organization_id: uuid.UUID, rows: list[Prediction], exc: Exception) -> None:
        if self._conn is not None and self._conn.broken:
            self._conn = None
        with self._lock:
            # the database away (connection refused, dropped, shutting down) is waited for however long it takes
            # (bounded by MAX_PENDING); only a refusal of the rows themselves counts towards dropping them
            if not isinstance(exc, psycopg.OperationalError):
                self._attempts[organization_id] += 1
            if self._attempts[organization_id] >= MAX_ATTEMPTS:
                del self._attempts[organization_id]
                logger.error("real-time prediction log: %d rows of organization %s dropped after %d failed "
                             "writes: %s", len(rows), organization_id, MAX_ATTEMPTS, exc)
                return
            self._pending[:0] = rows  # first in line again, in their order

    def _write(self, organization_id: uuid.UUID, rows: list[Prediction]) -> None:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._conninfo, autocommit=True)
        conn = self._conn
        columns = (
            [r.id for r in rows], [r.organization_id for r in rows], [r.prospect_id for r in rows],
            [r.prediction_type for r in rows], [r.model_version for r in rows], [r.inputs_hash for r in rows],
            [r.score for r in rows], [r.ml_score for r in rows], [r.probability for r in rows],
            [r.tier for r in rows], [json.dumps(r.top_factors) for r in rows], [r.created_at for r in rows],
        )
        with conn.transaction():
            # bound to the one organization: row-level security checks every row against it
            conn.execute("select set_config('app.organization_id', %s, true)", (str(organization_id),))
            conn.execute(_INSERT_SQL, columns)

    def _run(self) -> None:
        failing = False
        stop = threading.Event()
        while not stop.wait(self._interval):
            if not self.pending():
                continue
            try:
                self.flush()
                failing = False
            except Exception as exc:  # the rows wait in memory for the next try
                if not failing:  # once per outage, not five times a second
                    logger.warning("real-time predictions not logged yet (%s); retrying", exc)
                failing = True


_logs: dict[str, PredictionLog] = {}
_logs_lock = threading.Lock()


def log_for(settings: Settings) -> PredictionLog:
    """The process's prediction log for the API's database (its own connection: a request never waits for it)."""
    url = settings.api_database_url
    with _logs_lock:
        found = _logs.get(url)
        if found is None:
            found = _logs[url] = PredictionLog(url)
        return found


def flush_all() -> None:
    """Write every process-local queue now (the API's shutdown; tests that read the log back)."""
    with _logs_lock:
        logs = list(_logs.values())
    for each in logs:
        each.flush()


def _flush_at_exit() -> None:
    with _logs_lock:
        logs = list(_logs.values())
    for each in logs:
        with contextlib.suppress(Exception):  # at exit there is nobody left to tell
            each.flush()
            each.close()


atexit.register(_flush_at_exit)

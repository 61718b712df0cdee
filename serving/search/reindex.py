"""Full reindex with no downtime: build a new collection from a database snapshot, swap the alias, replay what
changed meanwhile.

1. A `search_indexing_jobs` row (status `running`) is committed first: from then on the incremental drain keeps
   the queue rows it applies instead of deleting them.
2. Every row is streamed from one REPEATABLE READ snapshot (all organizations, on the owner connection) into a
   new collection, in batches.
3. The alias is swapped (searches move atomically) and the old collection dropped.
4. Rows queued since the snapshot (with a margin for transactions that were open when it was taken) are queued
   again, so the drain re-reads them and writes their current state into the new collection.

A failure drops the half-built collection, marks the job `failed`, and leaves the alias where it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

import psycopg

from serving.search.collections import ENTITIES, Entity
from serving.search.engine import SearchIndex

logger = logging.getLogger(__name__)

BATCH = 2000
# a transaction open when the snapshot was taken may commit a change queued before it: replay those too
REPLAY_MARGIN = timedelta(minutes=10)


@dataclass
class ReindexResult:
    entity: str
    collection: str
    documents: int
    replayed: int
    previous: str | None


def reindex_entity(conn: psycopg.Connection, index: SearchIndex, entity: Entity, *,
                   progress: Callable[[int], None] | None = None, batch: int = BATCH) -> ReindexResult:
    """`conn` is an autocommit owner connection (row-level security does not apply to it)."""
    collection = index.create_collection(entity)
    job_id, snapshot_at = conn.execute(
        "insert into app.search_indexing_jobs (id, entity, collection, status, snapshot_at) "
        "values (gen_random_uuid(), %s, %s, 'running', clock_timestamp()) returning id, snapshot_at",
        (entity.name, collection)).fetchone()
    documents = 0
    try:
        with conn.transaction():
            conn.execute("set transaction isolation level repeatable read, read only")
            with conn.cursor(name=f"reindex_{entity.name}") as cursor:
                cursor.itersize = batch
                cursor.execute(entity.documents_sql("true"))
                while rows := cursor.fetchmany(batch):
                    index.upsert(collection, [row[1] for row in rows], action="create")
                    documents += len(rows)
                    if progress:
                        progress(len(rows))
        previous = index.swap(entity.name, collection)
        replayed = replay(conn, entity.name, since=snapshot_at - REPLAY_MARGIN)
        conn.execute("update app.search_indexing_jobs set status = 'succeeded', documents = %s, "
                     "finished_at = now() where id = %s", (documents, job_id))
    except Exception as exc:
        index.drop(collection)
        conn.execute("update app.search_indexing_jobs set status = 'failed', documents = %s, error = %s, "
                     "finished_at = now() where id = %s", (documents, str(exc)[:2000], job_id))
        raise
    finally:
        forget_applied(conn)
    return ReindexResult(entity.name, collection, documents, replayed, previous)


def replay(conn: psycopg.Connection, entity: str, *, since) -> int:
    """Queue again what was applied to the old collection after the snapshot, and wake the drains."""
    rows = conn.execute(
        "update app.search_sync_queue set indexed_at = null where entity = %s and queued_at >= %s "
        "and indexed_at is not null returning organization_id", (entity, since)).fetchall()
    organizations = sorted({row[0] for row in rows})
    if organizations:
        conn.execute("select app.search_sync_wake(%s::uuid[])", (organizations,))
    return len(rows)


def forget_applied(conn: psycopg.Connection) -> None:
    """Rows the drain kept for a replay are of no use once no reindex is running."""
    conn.execute("delete from app.search_sync_queue where indexed_at is not null and not exists "
                 "(select 1 from app.search_indexing_jobs where status = 'running')")


def reindex(conn: psycopg.Connection, index: SearchIndex, entities: Iterable[str] | None = None, *,
            progress: Callable[[str, int], None] | None = None) -> list[ReindexResult]:
    index.ensure_search_key()
    results = []
    for name in entities or ENTITIES:
        entity = ENTITIES[name]
        results.append(reindex_entity(conn, index, entity,
                                      progress=(lambda n, e=name: progress(e, n)) if progress else None))
    return results


def counts(conn: psycopg.Connection, index: SearchIndex, entity: Entity) -> list[dict]:
    """Per organization: rows in the database against documents in the index (the asset check's evidence),
    including organizations present on one side only."""
    database = dict(conn.execute(f"select organization_id::text, count(*) from {entity.table} group by 1").fetchall())
    documents = index.counts_by_organization(entity.name)
    return [{"organization_id": org, "rows": database.get(org, 0), "documents": documents.get(org, 0)}
            for org in sorted(database.keys() | documents.keys())]


def pending_changes(conn: psycopg.Connection, entity: str) -> dict[str, int]:
    """Per organization: the entity's changes queued and not yet applied (the check allows for them)."""
    return dict(conn.execute("select organization_id::text, count(*) from app.search_sync_queue "
                             "where entity = %s and indexed_at is null group by 1", (entity,)).fetchall())

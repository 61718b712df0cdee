"""Draining `search_sync_queue` into Typesense, one organization at a time.

Each batch is one transaction under the organization's row-level security: claim queued rows (skipping rows
another worker holds), read the current state of those records, upsert what exists and delete what does not,
then mark the rows indexed. If Typesense fails, the transaction rolls back, so the rows stay queued; their
attempts and error are recorded in a second transaction and the job is retried by the queue. Reading the current
state (not the change) makes the drain idempotent and order-free: a record changed twice is indexed once, as it
is now.

Indexed rows are kept while a full reindex runs (it replays every row queued since its snapshot into the new
collection after the swap) and deleted otherwise.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from serving.core.db import tenant_session
from serving.search.collections import ENTITIES
from serving.search.engine import SearchIndex

logger = logging.getLogger(__name__)

BATCH = 500
ORGANIZATION = "organization"

CLAIM = text("""
select entity, record_id, queued_at from app.search_sync_queue
where organization_id = :org and indexed_at is null
order by queued_at limit :limit
for update skip locked
""")

# Rows queued before the oldest running reindex's snapshot are of no more use once indexed.
MARK_INDEXED = text("""
with applied as (
  select * from unnest(cast(:entities as text[]), cast(:ids as uuid[]), cast(:queued as timestamptz[]))
    as a(entity, record_id, queued_at)
), forget as (
  delete from app.search_sync_queue q using applied a
  where q.organization_id = :org and q.entity = a.entity and q.record_id = a.record_id
    and q.queued_at = a.queued_at
    and not exists (select 1 from app.search_indexing_jobs j where j.status = 'running')
  returning q.record_id
)
update app.search_sync_queue q set indexed_at = clock_timestamp(), attempts = 0, last_error = null
from applied a
where q.organization_id = :org and q.entity = a.entity and q.record_id = a.record_id
  and q.queued_at = a.queued_at
  and exists (select 1 from app.search_indexing_jobs j where j.status = 'running')
""")

RECORD_FAILURE = text("""
update app.search_sync_queue set attempts = attempts + 1, last_error = :error
where organization_id = :org and (entity, record_id) in (
  select * from unnest(cast(:entities as text[]), cast(:ids as uuid[])))
""")


@dataclass
class DrainResult:
    upserted: int = 0
    deleted: int = 0
    organizations_cleared: int = 0


def apply(session: Session, index: SearchIndex, organization_id: str,
          items: list[tuple[str, uuid.UUID]]) -> DrainResult:
    """Bring the documents of `items` (entity, record id) up to date behind their entity's alias."""
    result = DrainResult()
    by_entity: dict[str, list[uuid.UUID]] = defaultdict(list)
    for entity, record_id in items:
        by_entity[entity].append(record_id)
    if ORGANIZATION in by_entity:
        # the tenant is gone: one delete by filter per collection, and nothing else of it to index
        result.organizations_cleared = index.delete_organization(organization_id) or 1
        return result
    for entity_name, ids in by_entity.items():
        entity = ENTITIES.get(entity_name)
        if entity is None:
            logger.warning("search sync: unknown entity %r queued; skipped", entity_name)
            continue
        rows = session.execute(text(entity.by_ids_sql), {"ids": ids}).all()
        documents = [row.doc for row in rows]
        missing = {str(i) for i in ids} - {d["id"] for d in documents}
        index.upsert(index.alias(entity_name), documents)
        index.delete(index.alias(entity_name), missing)
        result.upserted += len(documents)
        result.deleted += len(missing)
    return result


def drain(*, factory: sessionmaker[Session], index: SearchIndex, organization_id: uuid.UUID | str,
          batch: int = BATCH, max_batches: int | None = None) -> DrainResult:
    """Apply the organization's queued changes until none is left (or `max_batches`)."""
    org = str(organization_id)
    total = DrainResult()
    batches = 0
    while max_batches is None or batches < max_batches:
        claimed: list = []
        try:
            with tenant_session(factory, org) as session:
                claimed = session.execute(CLAIM, {"org": org, "limit": batch}).all()
                if not claimed:
                    break
                done = apply(session, index, org, [(row.entity, row.record_id) for row in claimed])
                session.execute(MARK_INDEXED, {
                    "org": org, "entities": [row.entity for row in claimed],
                    "ids": [row.record_id for row in claimed], "queued": [row.queued_at for row in claimed]})
        except Exception as exc:
            if claimed:
                with tenant_session(factory, org) as session:
                    session.execute(RECORD_FAILURE, {"org": org, "error": str(exc)[:1000],
                                                     "entities": [row.entity for row in claimed],
                                                     "ids": [row.record_id for row in claimed]})
            raise
        total.upserted += done.upserted
        total.deleted += done.deleted
        total.organizations_cleared += done.organizations_cleared
        batches += 1
    return total


def due_organizations(session: Session) -> list[uuid.UUID]:
    return list(session.execute(text("select * from app.search_sync_due_organizations()")).scalars())

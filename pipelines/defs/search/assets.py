"""The `search` group: a full reindex of every searchable entity into new Typesense collections, swapped in under
their aliases with no downtime (`serving.search.reindex`), and a check that the index holds every row.

The incremental sync is not here: the worker drains the trigger-filled `search_sync_queue` within seconds of each
write. The reindex is for a fresh or rebuilt Typesense, a schema change of a collection, or drift the check finds.
"""


import dagster as dg

from pipelines.resources import PostgresResource, TypesenseResource
from serving.search.collections import ENTITIES
from serving.search.reindex import counts, pending_changes, reindex

GROUP = "search"
SEARCH_INDEX = dg.AssetKey(["search", "index"])


@dg.asset(key=SEARCH_INDEX, group_name=GROUP, kinds={"typesense"},
          description="Every prospect, account, deal and e-mail rebuilt into new Typesense collections from one "
                      "database snapshot, aliases swapped, changes made meanwhile replayed; one "
                      "app.search_indexing_jobs row per entity.")
def search_index(context: dg.AssetExecutionContext, postgres: PostgresResource,
                 typesense: TypesenseResource) -> dg.MaterializeResult:
    index = typesense.index()
    done: dict[str, int] = {}

    def progress(entity: str, count: int) -> None:
        done[entity] = done.get(entity, 0) + count
        if done[entity] % 20_000 < count:
            context.log.info("%s: %d documents imported", entity, done[entity])

    try:
        with postgres.connect() as conn:
            results = reindex(conn, index, progress=progress)
    finally:
        index.close()
    return dg.MaterializeResult(metadata={
        **{f"{r.entity}_documents": dg.MetadataValue.int(r.documents) for r in results},
        **{f"{r.entity}_replayed": dg.MetadataValue.int(r.replayed) for r in results},
        "collections": dg.MetadataValue.json({r.entity: r.collection for r in results}),
    })


def _count_check(entity: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=SEARCH_INDEX, name=f"{entity}_indexed",
                    description=f"Per organization, as many {entity} documents in Typesense as rows in app.{entity} "
                                "(queued changes not yet applied are allowed for).")
    def _check(postgres: PostgresResource, typesense: TypesenseResource) -> dg.AssetCheckResult:
        index = typesense.index()
        try:
            with postgres.connect() as conn:
                rows = counts(conn, index, ENTITIES[entity])
                pending = pending_changes(conn, entity)
        finally:
            index.close()
        drift = [r for r in rows if abs(r["rows"] - r["documents"]) > pending.get(r["organization_id"], 0)]
        return dg.AssetCheckResult(
            passed=not drift,
            metadata={"organizations_checked": dg.MetadataValue.int(len(rows)),
                      "rows": dg.MetadataValue.int(sum(r["rows"] for r in rows)),
                      "documents": dg.MetadataValue.int(sum(r["documents"] for r in rows)),
                      "pending_changes": dg.MetadataValue.int(sum(pending.values())),
                      "drift": dg.MetadataValue.json(drift[:50])})

    return _check


search_checks = [_count_check(entity) for entity in ENTITIES]

search_reindex_job = dg.define_asset_job(
    "search_reindex", selection=dg.AssetSelection.assets(SEARCH_INDEX),
    description="Rebuild the search index into new collections and swap the aliases (no downtime).")
search_reindex_schedule = dg.ScheduleDefinition(
    name="search_reindex_weekly", job=search_reindex_job, cron_schedule="0 4 * * 0",
    default_status=dg.DefaultScheduleStatus.RUNNING)

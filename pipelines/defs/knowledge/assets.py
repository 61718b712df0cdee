"""The `knowledge` group: keep the company knowledge base's vectors current and its websites fresh.

- `knowledge/embeddings`: every chunk with no vector, or a vector from another model than the one in use (after a
  model change; vectors of different models are never compared), embedded again in batches; a check says how many
  are left.
- `knowledge/recrawl`: every website whose last crawl is older than its `recrawl_days` (or that was never
  crawled) gets a crawl job queued for the worker; the crawl itself runs there, like `POST …/crawl`.

Both run on the owner connection (every organization; row-level security does not apply to it).
"""

import dagster as dg

from pipelines.resources import PostgresResource
from serving.core.clock import utcnow
from serving.knowledge import service
from serving.knowledge.embedding import configured_embedder

GROUP = "knowledge"
EMBEDDINGS = dg.AssetKey(["knowledge", "embeddings"])
RECRAWL = dg.AssetKey(["knowledge", "recrawl"])
BATCH = 256


class BackfillConfig(dg.Config):
    batch_size: int = BATCH
    max_documents: int = 0  # 0: all of them; otherwise stop after this many (a bounded run on a big backlog)


@dg.asset(key=EMBEDDINGS, group_name=GROUP, kinds={"postgres", "pgvector"},
          description="Knowledge-base chunks whose embedding is missing or from another model, embedded with the "
                      "model in use, one committed batch at a time (progress logged; safe to stop and resume).")
def knowledge_embeddings(context: dg.AssetExecutionContext, config: BackfillConfig,
                         postgres: PostgresResource) -> dg.MaterializeResult:
    embedder = configured_embedder()  # the model in use (EMBEDDINGS_PROVIDER): the one searches compare with
    done = batches = 0
    last = None
    with postgres.session() as session:
        total = service.count_stale_embeddings(db_session=session, model=embedder.model)
        context.log.info("%d chunks to embed with %s", total, embedder.model)
        while not config.max_documents or done < config.max_documents:
            size = config.batch_size if not config.max_documents else min(config.batch_size,
                                                                            config.max_documents - done)
            rows = service.stale_embeddings(db_session=session, model=embedder.model, batch_size=size, after=last)
            if not rows:
                break
            ids = [document_id for document_id, _ in rows]
            service.store_embeddings(db_session=session, ids=ids, vectors=embedder.embed([t for _, t in rows]),
                                     model=embedder.model)
            session.commit()  # each batch stands on its own: a stopped run resumes where it was
            done += len(rows)
            batches += 1
            last = ids[-1]
            context.log.info("embedded %d of %d chunks", done, total)
        remaining = service.count_stale_embeddings(db_session=session, model=embedder.model)
    return dg.MaterializeResult(metadata={
        "embedded": dg.MetadataValue.int(done), "batches": dg.MetadataValue.int(batches),
        "remaining": dg.MetadataValue.int(remaining), "model": dg.MetadataValue.text(embedder.model)})


@dg.asset_check(asset=EMBEDDINGS, name="embeddings_current",
                description="Every knowledge-base chunk has a vector from the model in use.")
def embeddings_current(postgres: PostgresResource) -> dg.AssetCheckResult:
    model = configured_embedder().model
    with postgres.session() as session:
        stale = service.count_stale_embeddings(db_session=session, model=model)
    return dg.AssetCheckResult(passed=stale == 0, metadata={"stale": dg.MetadataValue.int(stale),
                                                              "model": dg.MetadataValue.text(model)})


@dg.asset(key=RECRAWL, group_name=GROUP, kinds={"postgres"},
          description="A crawl job queued for each website whose last crawl is older than its recrawl_days (or "
                      "never crawled); the worker crawls it and re-embeds only the pages that changed.")
def knowledge_recrawl(context: dg.AssetExecutionContext, postgres: PostgresResource) -> dg.MaterializeResult:
    with postgres.session() as session:
        due = service.due_websites(db_session=session, now=utcnow())
        for website in due:
            service.request_crawl(db_session=session, website=website)
        session.commit()
    context.log.info("%d websites due for a crawl", len(due))
    return dg.MaterializeResult(metadata={"queued": dg.MetadataValue.int(len(due)),
                                          "websites": dg.MetadataValue.json([w.url for w in due[:50]])})


knowledge_checks = [embeddings_current]

knowledge_recrawl_job = dg.define_asset_job(
    "knowledge_recrawl", selection=dg.AssetSelection.assets(RECRAWL),
    description="Queue a crawl of every company website that is due.")
knowledge_recrawl_schedule = dg.ScheduleDefinition(
    name="knowledge_recrawl_daily", job=knowledge_recrawl_job, cron_schedule="30 3 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING)
knowledge_embeddings_job = dg.define_asset_job(
    "knowledge_embeddings", selection=dg.AssetSelection.assets(EMBEDDINGS),
    description="Embed the knowledge-base chunks that have no vector or one from another model.")

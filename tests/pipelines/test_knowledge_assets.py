"""The `knowledge` assets through Dagster on a database of their own: the embedding backfill gives every chunk a
vector of the model in use (missing ones and another model's, in batches) and its check turns green; the re-crawl
asset queues a crawl job for exactly the websites that are due."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import psycopg
import pytest
from sqlalchemy import text

from models.embeddings import LOCAL_MODEL
from pipelines.definitions import resources
from pipelines.defs.knowledge.assets import embeddings_current, knowledge_embeddings, knowledge_recrawl
from pipelines.ingest.ledger import psycopg_conninfo
from serving.core.clock import utcnow
from serving.knowledge import service
from serving.knowledge.models import KnowledgeDocument, KnowledgeWebsite
from tests.conftest import make_settings
from tests.factories import make_tenant


@pytest.fixture
def database(pg):
    database = pg.url(pg.clone())
    yield database
    pg.drop(database.rsplit("/", 1)[-1].split("?")[0])


def _materialize(assets, database, tmp_path, run_config=None):
    res = resources(database_url=database, landing_url=str(tmp_path / "landing"))
    return dg.materialize(assets, resources=res, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
                          run_config=run_config)


def test_the_backfill_embeds_missing_and_foreign_vectors_in_batches(database, tmp_path):
    tenant = make_tenant(make_settings(database, tmp_path))
    texts = ["Solar pumps lift groundwater for small farms.", "Our support desk answers within one hour.",
             "The warehouse ships orders every weekday.", "Invoices are due thirty days after delivery.",
             "Engineers rotate on call every second week."]
    for i, content in enumerate(texts):
        tenant.add(KnowledgeDocument, content=content, title=None, chunk_index=i,
                   embedding=[0.0] * 383 + [1.0] if i == 4 else None, embedding_model="old-model" if i == 4 else None)
    first = _materialize([knowledge_embeddings, embeddings_current], database, tmp_path,
                         {"ops": {"knowledge__embeddings": {"config": {"batch_size": 2, "max_documents": 3}}}})
    assert first.success
    [materialization] = first.asset_materializations_for_node("knowledge__embeddings")
    assert (materialization.metadata["embedded"].value, materialization.metadata["batches"].value) == (3, 2)
    assert materialization.metadata["remaining"].value == 2
    assert [e.passed for e in first.get_asset_check_evaluations()] == [False]

    second = _materialize([knowledge_embeddings, embeddings_current], database, tmp_path)
    [materialization] = second.asset_materializations_for_node("knowledge__embeddings")
    assert materialization.metadata["embedded"].value == 2 and materialization.metadata["remaining"].value == 0
    assert [e.passed for e in second.get_asset_check_evaluations()] == [True]
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        models = conn.execute("select embedding_model, count(*) from app.knowledge_documents "
                              "where embedding is not null group by 1").fetchall()
    assert models == [(LOCAL_MODEL, 5)]
    with tenant.session() as session, session.begin():
        [best] = service.match(db_session=session, query="irrigation for farmers using the sun", threshold=0,
                               limit=1)
    assert best["content"] == texts[0]  # the vectors the backfill wrote are real ones


def test_the_recrawl_asset_queues_only_due_websites(database, tmp_path):
    tenant = make_tenant(make_settings(database, tmp_path))
    now = utcnow()
    never = tenant.add(KnowledgeWebsite, url="https://never.example/")
    stale = tenant.add(KnowledgeWebsite, url="https://stale.example/", recrawl_days=7, status="done",
                       last_crawled_at=now - timedelta(days=8))
    tenant.add(KnowledgeWebsite, url="https://fresh.example/", recrawl_days=7, status="done",
               last_crawled_at=now - timedelta(days=2))
    tenant.add(KnowledgeWebsite, url="https://busy.example/", status="crawling")
    dead = tenant.add(KnowledgeWebsite, url="https://dead.example/", status="crawling",
                      updated_at=now - timedelta(hours=3))  # its worker died mid-crawl
    result = _materialize([knowledge_recrawl], database, tmp_path)
    assert result.success
    [materialization] = result.asset_materializations_for_node("knowledge__recrawl")
    assert materialization.metadata["queued"].value == 3
    with tenant.session() as session, session.begin():
        queued = session.execute(text("select args->>'website_id' from procrastinate.procrastinate_jobs "
                                      "where task_name = :t"), {"t": service.CRAWL_TASK}).scalars().all()
    assert sorted(queued) == sorted([str(never.id), str(stale.id), str(dead.id)])
    # run again before the worker took them: the waiting jobs absorb the new ones
    _materialize([knowledge_recrawl], database, tmp_path)
    with tenant.session() as session, session.begin():
        assert session.scalar(text("select count(*) from procrastinate.procrastinate_jobs where task_name = :t"),
                              {"t": service.CRAWL_TASK}) == 3

"""The index follows the database: every write path queues its records in the writing transaction, the drain
applies them (and keeps them when Typesense fails), tenant deletion empties the index of that tenant, and a full
reindex swaps collections under searches without losing a change made while it ran."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import uuid

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typesense import exceptions as ts_errors

from serving.core import queue
from serving.core.db import libpq_url, session_factory
from serving.main import create_app
from serving.search import reindex as full
from serving.search import sync
from serving.search.collections import ENTITIES
from serving.search.engine import SearchIndex
from serving.search.jobs import periodic_sweep, upgrade_outdated
from tests.factories import make_tenant, unique_email
from tests.worker.worker_env import worker_env


def _queue(tenant) -> list:
    with tenant.session() as session, session.begin():
        return session.execute(text("select entity, record_id, indexed_at, attempts, last_error "
                                    "from app.search_sync_queue where organization_id = :org"),
                               {"org": tenant.organization_id}).all()


def _account(client, tenant, name: str) -> dict:
    response = client.post("/api/v1/accounts", json={"name": name}, headers=tenant.user.headers)
    assert response.status_code == 201, response.text
    return response.json()


def _names(index: SearchIndex, tenant, target: str | None = None) -> set[str]:
    result = index.admin.collections[target or index.alias("accounts")].documents.search(
        {"q": "*", "filter_by": f"organization_id:={tenant.organization_id}", "per_page": 250})
    return {hit["document"]["name"] for hit in result["hits"]}


def test_a_write_queues_its_record_in_the_same_transaction(search_client, tenant):
    with tenant.session() as session:
        session.begin()
        session.execute(text("insert into app.accounts (id, organization_id, name) "
                             "values (gen_random_uuid(), :org, 'Rolled Back Ltd')"), {"org": tenant.organization_id})
        session.rollback()
    assert _queue(tenant) == []
    account = _account(search_client, tenant, "Committed Ltd")
    assert [(row.entity, str(row.record_id)) for row in _queue(tenant)] == [("accounts", account["id"])]


def test_a_bulk_statement_queues_each_record_once(search_client, tenant, drain, index):
    with tenant.session() as session, session.begin():
        session.execute(text("insert into app.accounts (id, organization_id, name) "
                             "select gen_random_uuid(), :org, 'Bulk ' || g from generate_series(1, 300) g"),
                        {"org": tenant.organization_id})
        session.execute(text("update app.accounts set industry = 'Retail' where organization_id = :org"),
                        {"org": tenant.organization_id})
    assert len(_queue(tenant)) == 300
    assert drain(tenant.organization_id).upserted == 300
    assert index.counts_by_organization("accounts")[str(tenant.organization_id)] == 300
    assert _queue(tenant) == []


def test_when_typesense_fails_the_rows_stay_queued_with_the_error(search_client, search_settings, tenant, drain,
                                                                  index):
    _account(search_client, tenant, "Patient Co")
    down = SearchIndex(url="http://127.0.0.1:9", admin_key="x", prefix=index.prefix, timeout=0.5)
    with pytest.raises(Exception):  # noqa: B017 (whatever the client raises for a refused connection)
        sync.drain(factory=session_factory(search_settings.api_database_url), index=down,
                   organization_id=tenant.organization_id)
    [row] = _queue(tenant)
    assert row.indexed_at is None and row.attempts == 1 and row.last_error
    assert drain(tenant.organization_id).upserted == 1
    assert _names(index, tenant) == {"Patient Co"}


def test_deleting_an_organization_removes_its_documents(search_client, search_settings, drain, index, owner_session):
    doomed = make_tenant(search_settings)
    _account(search_client, doomed, "Doomed Inc")
    drain(doomed.organization_id)
    assert _names(index, doomed) == {"Doomed Inc"}
    owner_session.execute(text("delete from app.organizations where id = :id"), {"id": doomed.organization_id})
    owner_session.commit()
    result = drain(doomed.organization_id)
    assert result.organizations_cleared >= 1
    assert _names(index, doomed) == set()
    assert str(doomed.organization_id) not in index.counts_by_organization("prospects")


def test_reindex_swaps_the_alias_and_replays_changes_made_while_it_ran(search_client, search_settings, tenant,
                                                                       drain, index):
    kept = _account(search_client, tenant, "Before Reindex")
    renamed = _account(search_client, tenant, "Renamed During")
    drain(tenant.organization_id)
    before = index.collection_for("accounts")

    def change_mid_build(count: int) -> None:
        # after the snapshot was read: a rename and a new account, applied by the drain to the old collection
        if change_mid_build.done:
            return
        change_mid_build.done = True
        assert search_client.put(f"/api/v1/accounts/{renamed['id']}", json={"name": "Renamed After"},
                                 headers=tenant.user.headers).status_code == 200
        _account(search_client, tenant, "Created During")
        drain(tenant.organization_id)

    change_mid_build.done = False
    with psycopg.connect(libpq_url(search_settings.owner_database_url), autocommit=True) as conn:
        result = full.reindex_entity(conn, index, ENTITIES["accounts"], progress=change_mid_build, batch=1)
        assert result.previous == before and result.collection == index.collection_for("accounts")
        assert result.replayed >= 2
        status = conn.execute("select status, documents from app.search_indexing_jobs where collection = %s",
                              (result.collection,)).fetchone()
        assert status[0] == "succeeded" and status[1] >= 2
    assert before not in {c["name"] for c in index.collections()}
    # the snapshot had the old name; the replay brings the new one and the new account
    drain(tenant.organization_id)
    assert _names(index, tenant) == {"Before Reindex", "Renamed After", "Created During"}
    assert kept["id"]
    assert _queue(tenant) == []


def test_a_collection_an_older_release_built_is_rebuilt_by_the_workers_sweep(search_client, search_settings,
                                                                             tenant, index):
    """A collection lacking a field the searches now use (`tenant`, the number the scoped key pins, came after the
    first release): searching it is a 503 SEARCH_UNAVAILABLE, not an error of the request, until a worker's first
    sweep (the minute job, also run a minute after it starts at most) rebuilds it from the database."""
    _account(search_client, tenant, "Upgraded Ltd")
    old = SearchIndex(url=index.url, admin_key=index.admin_key, prefix=f"{index.prefix}_up{uuid.uuid4().hex[:6]}")
    entity = ENTITIES["accounts"]
    legacy = {**entity.schema(f"{old.alias('accounts')}_legacy"),
              "fields": [f for f in entity.schema_fields if f["name"] != "tenant"]}
    old.admin.collections.create(legacy)
    old.admin.aliases.upsert(old.alias("accounts"), {"collection_name": legacy["name"]})
    old.ensure()  # the other entities' collections, current
    app = create_app(search_settings)
    app.state.search_index = old
    try:
        assert old.outdated() == ["accounts"]
        with TestClient(app) as client:
            params = {"q": "upgraded", "types": "accounts"}
            response = client.get("/api/v1/search", params=params, headers=tenant.user.headers)
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "SEARCH_UNAVAILABLE"

            queue.configure(search_settings.model_copy(update={"search_collection_prefix": old.prefix}))
            try:
                periodic_sweep(timestamp=0)
            finally:
                queue.configure(search_settings)
            assert old.outdated() == [] and upgrade_outdated(old, search_settings.owner_database_url) == []
            response = client.get("/api/v1/search", params=params, headers=tenant.user.headers)
            assert response.status_code == 200, response.text
            assert [h["title"] for h in response.json()["accounts"]] == ["Upgraded Ltd"]
    finally:
        for name in ENTITIES:
            old.drop(old.collection_for(name) or f"{old.alias(name)}_legacy")
            with contextlib.suppress(ts_errors.ObjectNotFound):
                old.admin.aliases[old.alias(name)].delete()
        old.close()


def test_counts_compare_rows_and_documents_per_organization(search_client, search_settings, tenant, drain, index):
    _account(search_client, tenant, "Counted")
    drain(tenant.organization_id)
    with psycopg.connect(libpq_url(search_settings.owner_database_url), autocommit=True) as conn:
        counts = {c["organization_id"]: c for c in full.counts(conn, index, ENTITIES["accounts"])}
        assert counts[str(tenant.organization_id)] == {"organization_id": str(tenant.organization_id), "rows": 1,
                                                        "documents": 1}
        index.delete(index.alias("accounts"), [_queue_less_id(conn, tenant)])
        counts = {c["organization_id"]: c for c in full.counts(conn, index, ENTITIES["accounts"])}
        assert counts[str(tenant.organization_id)]["documents"] == 0


def _queue_less_id(conn, tenant) -> str:
    return str(conn.execute("select id from app.accounts where organization_id = %s",
                            (tenant.organization_id,)).fetchone()[0])


def test_the_real_worker_drains_the_queue(fresh_database, typesense_server, tmp_path, pg):
    """A write through the API queues a `search.sync` job; a real worker process runs it into Typesense."""
    url, key = typesense_server
    from tests.conftest import make_settings

    settings = make_settings(fresh_database, tmp_path, TYPESENSE_URL=url, TYPESENSE_API_KEY=key,
                             SEARCH_COLLECTION_PREFIX=f"w_{pg.worker}")
    tenant = make_tenant(settings)
    email = unique_email("worker")
    with tenant.session() as session, session.begin():
        session.execute(text("insert into app.prospects (id, organization_id, email, first_name, status) "
                             "values (gen_random_uuid(), :org, :email, 'Workerbee', 'new')"),
                        {"org": tenant.organization_id, "email": email})
        jobs = session.execute(text("select count(*) from procrastinate.procrastinate_jobs "
                                    "where task_name = 'search.sync' and status = 'todo'")).scalar()
    assert jobs == 1
    env = worker_env(fresh_database, tmp_path, TYPESENSE_URL=url, TYPESENSE_API_KEY=key,
                     SEARCH_COLLECTION_PREFIX=f"w_{pg.worker}")
    code = ("from serving.core.config import Settings; from serving.worker import run_worker; "
            "run_worker(Settings(), concurrency=1, wait=False, install_signal_handlers=False)")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    index = SearchIndex.from_settings(settings)
    result = index.admin.collections[index.alias("prospects")].documents.search(
        {"q": "workerbee", "query_by": "name", "filter_by": f"organization_id:={tenant.organization_id}"})
    assert [hit["document"]["email"] for hit in result["hits"]] == [email]

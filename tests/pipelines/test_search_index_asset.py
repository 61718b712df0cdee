"""The `search/index` asset rebuilds every collection from the database through Dagster, swaps the aliases, and
its checks pass when the index holds every row and fail when it drifts."""

from __future__ import annotations

import uuid

import dagster as dg
import psycopg
import pytest

from pipelines.definitions import resources
from pipelines.defs.search.assets import SEARCH_INDEX, search_checks, search_index
from pipelines.ingest.ledger import psycopg_conninfo
from serving.core.db import session_factory
from serving.search import sync
from serving.search.collections import ENTITIES
from serving.search.engine import SearchIndex
from tests.conftest import make_settings
from tests.factories import make_tenant


@pytest.fixture
def database(pg, tmp_path, typesense_server):
    database = pg.url(pg.clone())
    yield database
    pg.drop(database.rsplit("/", 1)[-1].split("?")[0])


def _materialize(database, tmp_path, typesense):
    res = resources(database_url=database, landing_url=str(tmp_path / "landing"), typesense=typesense)
    return dg.materialize([search_index, *search_checks], resources=res, instance=dg.DagsterInstance.ephemeral(),
                          raise_on_error=False)


def test_reindex_builds_swaps_and_checks(database, tmp_path, typesense_server, pg):
    url, key = typesense_server
    prefix = f"a_{pg.worker}_{uuid.uuid4().hex[:6]}"
    tenant = make_tenant(make_settings(database, tmp_path))
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        conn.execute("insert into app.accounts (id, organization_id, name) "
                     "select gen_random_uuid(), %s, 'Account ' || g from generate_series(1, 25) g",
                     (tenant.organization_id,))
        conn.execute("insert into app.prospects (id, organization_id, email) "
                     "select gen_random_uuid(), %s, 'p' || g || '@example.com' from generate_series(1, 40) g",
                     (tenant.organization_id,))

    first = _materialize(database, tmp_path, (url, key, prefix))
    assert first.success
    [materialization] = first.asset_materializations_for_node("search__index")
    assert materialization.metadata["accounts_documents"].value == 25
    assert materialization.metadata["prospects_documents"].value == 40
    checks = {e.check_name: e.passed for e in first.get_asset_check_evaluations()}
    assert checks == {f"{entity}_indexed": True for entity in ENTITIES}

    index = SearchIndex(url=url, admin_key=key, prefix=prefix)
    collection = index.collection_for("accounts")
    second = _materialize(database, tmp_path, (url, key, prefix))
    assert second.success and index.collection_for("accounts") != collection
    assert collection not in {c["name"] for c in index.collections()}

    # drift: with the queue drained (as the worker does), a document lost behind its back fails the check
    sync.drain(factory=session_factory(make_settings(database, tmp_path).api_database_url), index=index,
               organization_id=tenant.organization_id)
    with psycopg.connect(psycopg_conninfo(database), autocommit=True) as conn:
        some_id = str(conn.execute("select id from app.accounts limit 1").fetchone()[0])
    index.delete(index.alias("accounts"), [some_id])
    res = resources(database_url=database, landing_url=str(tmp_path / "landing"), typesense=(url, key, prefix))
    checked = dg.materialize([search_index, *search_checks], resources=res, instance=dg.DagsterInstance.ephemeral(),
                             selection=dg.AssetSelection.checks_for_assets(SEARCH_INDEX), raise_on_error=False)
    failed = {e.check_name for e in checked.get_asset_check_evaluations() if not e.passed}
    assert failed == {"accounts_indexed"}


def test_without_typesense_the_asset_fails_with_a_clear_reason(database, tmp_path):
    result = _materialize(database, tmp_path, (None, None, "revorc"))
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"
                 and e.step_key == "search__index"]
    assert "TYPESENSE_URL" in str(failure.event_specific_data.error)

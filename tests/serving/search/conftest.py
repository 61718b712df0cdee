"""Search against a real Typesense (`typesense_server`: the embedded server binary, one per test session) on the
shared database.

Each session's collections carry their own prefix, so parallel sessions on one machine never meet; each test
isolates itself in its own tenants, as the API tests do.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from serving.core.db import session_factory
from serving.main import create_app
from serving.search import sync
from serving.search.engine import SearchIndex
from tests.conftest import make_settings


@pytest.fixture(scope="session")
def search_settings(database, state_dir, typesense_server, pg):
    url, key = typesense_server
    return make_settings(database, state_dir, TYPESENSE_URL=url, TYPESENSE_API_KEY=key,
                         SEARCH_COLLECTION_PREFIX=f"t_{pg.worker}")


@pytest.fixture(scope="session")
def index(search_settings) -> Iterator[SearchIndex]:
    search_index = SearchIndex.from_settings(search_settings)
    search_index.ensure()
    yield search_index
    search_index.close()


@pytest.fixture(scope="session")
def search_client(search_settings, index) -> Iterator[TestClient]:
    app = create_app(search_settings)
    app.state.search_index = index
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="session")
def drain(search_settings, index):
    """Index an organization's queued changes now, as the worker's `search.sync` job does (API role, RLS on)."""
    factory = session_factory(search_settings.api_database_url)

    def run(organization_id):
        return sync.drain(factory=factory, index=index, organization_id=organization_id)

    return run


@pytest.fixture(scope="session")
def search_tenant(search_settings):
    """An organization's search tenant, the number its documents carry and its scoped key pins."""
    factory = session_factory(search_settings.owner_database_url)

    def of(organization_id) -> int:
        with factory() as session:
            return session.execute(text("select search_tenant from app.organizations where id = :id"),
                                   {"id": organization_id}).scalar_one()

    return of

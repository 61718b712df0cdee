"""The search API's fast path (issue 13 §5): analytics kept in memory and written in batches, per organization
under its row-level security; scoped keys made once per organization and hour; the async Typesense client's
errors; and the search still refusing a deactivated user at once."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from serving.core.db import session_factory, tenant_session
from serving.core.principal import Principal
from serving.main import create_app
from serving.search import search_log
from serving.search.engine import SCOPED_KEY_TTL, SearchIndex
from serving.search.search_log import SearchLog
from serving.search.service import SearchRecord

URL = "/api/v1/search"


def _record(tenant, member, query: str, *, result_count: int = 3, user_id: uuid.UUID | None = None) -> SearchRecord:
    principal = Principal(user_id=user_id or member.id, organization_id=tenant.organization_id, role=member.role)
    return SearchRecord.of(principal=principal, query=query, types=["prospects"], filters={},
                           understood={"text": query}, result_count=result_count, latency_ms=4)


def _logged(settings, tenant, query: str) -> list[dict]:
    """The tenant's analytics rows for `query`, read as the API reads them (row-level security on)."""
    with tenant_session(session_factory(settings.api_database_url), tenant.organization_id) as session:
        return [dict(r) for r in session.execute(text(
            "select id, organization_id, user_id, normalized_query, result_count from app.search_analytics "
            "where normalized_query = :q"), {"q": query}).mappings()]


def _popular(settings, tenant, query: str):
    with tenant_session(session_factory(settings.api_database_url), tenant.organization_id) as session:
        return session.execute(text("select search_count from app.search_popular_queries "
                                    "where normalized_query = :q"), {"q": query}).scalar()


def test_searches_are_written_in_one_batch_each_in_its_own_organization(search_settings, tenant, other_tenant):
    log = SearchLog(session_factory(search_settings.api_database_url), interval=3600)  # only explicit flushes
    query = f"batched {uuid.uuid4().hex[:8]}"
    mine = [_record(tenant, tenant.user, query) for _ in range(2)]
    theirs = _record(other_tenant, other_tenant.user, query, result_count=0)
    for record in [*mine, theirs]:
        log.add(record)
    assert log.pending == 3 and _logged(search_settings, tenant, query) == []  # nothing written per search

    log.flush()
    assert log.pending == 0
    rows = _logged(search_settings, tenant, query)
    assert sorted(r["id"] for r in rows) == sorted(r.id for r in mine)
    assert {r["organization_id"] for r in rows} == {tenant.organization_id}
    assert {r["user_id"] for r in rows} == {tenant.user.id}
    assert [r["id"] for r in _logged(search_settings, other_tenant, query)] == [theirs.id]
    # the popular query counts both searches of the batch; a search that found nothing is not popular
    assert _popular(search_settings, tenant, query) == 2
    assert _popular(search_settings, other_tenant, query) is None
    log.flush()  # nothing left: nothing written twice
    assert len(_logged(search_settings, tenant, query)) == 2


def test_a_write_that_fails_keeps_its_searches_for_the_next_flush(search_settings, tenant):
    dead = session_factory("postgresql+psycopg://revorc:x@127.0.0.1:1/revorc")  # nothing listens on port 1
    log = SearchLog(dead, interval=3600)
    query = f"kept {uuid.uuid4().hex[:8]}"
    log.add(_record(tenant, tenant.user, query))
    with pytest.raises(OperationalError):
        log.flush()
    assert log.pending == 1

    log._factory = session_factory(search_settings.api_database_url)  # the database is back
    log.flush()
    assert log.pending == 0 and len(_logged(search_settings, tenant, query)) == 1


def test_a_search_by_a_user_deleted_since_is_logged_without_user(search_settings, tenant):
    log = SearchLog(session_factory(search_settings.api_database_url), interval=3600)
    query = f"orphan {uuid.uuid4().hex[:8]}"
    log.add(_record(tenant, tenant.user, query, user_id=uuid.uuid4()))
    log.flush()
    assert [r["user_id"] for r in _logged(search_settings, tenant, query)] == [None]


def test_searches_of_a_deleted_organization_are_dropped_not_retried(search_settings, tenant):
    log = SearchLog(session_factory(search_settings.api_database_url), interval=3600)
    gone = Principal(user_id=None, organization_id=uuid.uuid4(), role=tenant.user.role)
    log.add(SearchRecord.of(principal=gone, query="gone", types=[], filters={}, understood={}, result_count=1,
                            latency_ms=1))
    query = f"kept {uuid.uuid4().hex[:8]}"
    log.add(_record(tenant, tenant.user, query))
    log.flush()  # the other organization's searches are written all the same
    assert log.pending == 0 and len(_logged(search_settings, tenant, query)) == 1


def test_api_searches_reach_the_analytics_through_the_log(search_client, search_settings, tenant):
    query = f"api {uuid.uuid4().hex[:8]}"
    response = search_client.get(URL, params={"q": query}, headers=tenant.user.headers)
    assert response.status_code == 200, response.text
    # the analytics read writes this process's searches first
    stats = search_client.get(f"{URL}/analytics", headers=tenant.admin.headers)
    assert stats.status_code == 200, stats.text
    rows = _logged(search_settings, tenant, query)
    assert [str(r["id"]) for r in rows] == [response.json()["searchId"]]


def test_a_scoped_key_is_made_once_per_organization_and_hour(index, monkeypatch):
    made = []
    generate = index.admin.keys.generate_scoped_search_key

    def counting(search_key, params):
        made.append(params)
        return generate(search_key, params)

    monkeypatch.setattr(index.admin.keys, "generate_scoped_search_key", counting)
    org, other = 900_001, 900_002  # search tenants
    hour = 1_800_000_000 // SCOPED_KEY_TTL * SCOPED_KEY_TTL
    first, expires = index.scoped_key(org, now=hour + 10)
    assert index.scoped_key(org, now=hour + 3000) == (first, expires)
    assert len(made) == 1 and made[0]["filter_by"] == f"tenant:={org}"
    assert index.scoped_key(other, now=hour + 20)[0] != first and len(made) == 2

    later, later_expiry = index.scoped_key(org, now=hour + SCOPED_KEY_TTL + 1)
    assert later != first and later_expiry == expires + SCOPED_KEY_TTL and len(made) == 3
    assert all(bucket == later_expiry for _, bucket in index._scoped)  # keys of past hours are let go


def test_typesense_not_answering_is_a_clear_503(search_settings, index, tenant):
    app = create_app(search_settings)
    app.state.search_index = SearchIndex(url="http://127.0.0.1:1", admin_key="unused", prefix=index.prefix,
                                         timeout=2)
    with TestClient(app) as client:
        response = client.get(URL, params={"q": "anything"}, headers=tenant.user.headers)
    assert response.status_code == 503, response.text
    assert response.json()["success"] is False
    assert response.json()["error"]["code"] == "SEARCH_UNAVAILABLE"


def test_a_deactivated_user_is_refused_at_once(search_client, tenant):
    assert search_client.get(URL, params={"q": "x"}, headers=tenant.viewer.headers).status_code == 200
    with tenant.session() as session, session.begin():
        session.execute(text("update app.users set is_active = false where id = :id"), {"id": tenant.viewer.id})
    response = search_client.get(URL, params={"q": "x"}, headers=tenant.viewer.headers)
    assert response.status_code == 401, response.text


def test_stopping_the_api_writes_the_searches_still_in_memory(search_settings, index, tenant, monkeypatch):
    log = SearchLog(session_factory(search_settings.api_database_url), interval=3600)  # no background write
    monkeypatch.setitem(search_log._logs, search_settings.api_database_url, log)
    app = create_app(search_settings)
    app.state.search_index = index
    query = f"at stop {uuid.uuid4().hex[:8]}"
    with TestClient(app) as client:
        assert client.get(URL, params={"q": query}, headers=tenant.user.headers).status_code == 200
        assert log.pending == 1 and _logged(search_settings, tenant, query) == []
    assert log.pending == 0 and len(_logged(search_settings, tenant, query)) == 1


def test_query_understanding_reads_the_organizations_own_industries(search_settings, tenant, other_tenant,
                                                                   search_tenant):
    """INDUSTRIES_SQL (a skip scan of the organization's industry index): each distinct industry of the
    organization once, never an empty one or another organization's; and, with it or alone, its search tenant."""
    from serving.accounts.models import Account
    from serving.search.service import search_context

    for name, industry in [("A", "Fintech"), ("B", "Aerospace"), ("C", "Fintech"), ("D", ""), ("E", None),
                           ("F", "aerospace")]:
        tenant.add(Account, name=name, industry=industry)
    other_tenant.add(Account, name="G", industry="Mining")
    factory = session_factory(search_settings.api_database_url)
    with tenant_session(factory, tenant.organization_id) as session:
        industries, number = search_context(session, "two words")
        assert search_context(session, "one") == ([], number)  # one word: no industries read
    assert sorted(industries) == ["Aerospace", "Fintech", "aerospace"]  # each once, the empty ones left out
    assert number == search_tenant(tenant.organization_id)
    with tenant_session(factory, other_tenant.organization_id) as session:
        assert search_context(session, "two words") == (["Mining"], search_tenant(other_tenant.organization_id))

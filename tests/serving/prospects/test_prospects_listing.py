"""Prospect lists: every filter, sort and the pagination envelope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from serving.prospects.models import Prospect
from tests.factories import unique_email

URL = "/api/v1/prospects"
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def book(tenant):
    """Six prospects with known scores, tiers, owners and creation times."""
    rows = {
        "ada": dict(first_name="Ada", last_name="Lovelace", company="Analytical Engines", title="CTO",
                    status="new", intent_tier="burning", priority_score=95, intent_score=90,
                    qualification_score=80, owner_id=tenant.user.id, created_at=T0),
        "grace": dict(first_name="Grace", last_name="Hopper", company="Navy Compilers", title="Admiral",
                      status="contacted", intent_tier="hot", priority_score=70, intent_score=60,
                      qualification_score=50, owner_id=tenant.user.id, created_at=T0 + timedelta(days=1)),
        "alan": dict(first_name="Alan", last_name="Turing", company="Bletchley 100% Labs", title="Researcher",
                     status="engaged", intent_tier="warm", priority_score=40, intent_score=30,
                     qualification_score=20, owner_id=tenant.admin.id, created_at=T0 + timedelta(days=2)),
        "edsger": dict(first_name="Edsger", last_name="Dijkstra", company="analytical engines",
                       title="Professor", status="qualified", intent_tier="low", priority_score=10,
                       intent_score=5, qualification_score=90, owner_id=tenant.admin.id,
                       created_at=T0 + timedelta(days=3)),
        "barbara": dict(first_name="Barbara", last_name="Liskov", company="MIT_Labs", title="Professor",
                        status="unqualified", owner_id=tenant.user.id, created_at=T0 + timedelta(days=4)),
        "linus": dict(first_name="Linus", last_name="Torvalds", company=None, title=None, status="new",
                      priority_score=55, owner_id=None, created_at=T0 + timedelta(days=5)),
    }
    return {name: tenant.add(Prospect, email=unique_email(name), **values) for name, values in rows.items()}


def names(book, response) -> list[str]:
    assert response.status_code == 200, response.text
    by_id = {str(p.id): name for name, p in book.items()}
    return [by_id[item["id"]] for item in response.json()["data"]]


def listed(client, tenant, book, **params) -> list[str]:
    return names(book, client.get(URL, params=params, headers=tenant.user.headers))


def test_default_order_is_newest_first(client, tenant, book):
    assert listed(client, tenant, book) == ["linus", "barbara", "edsger", "alan", "grace", "ada"]


def test_status_filter_accepts_repeats_and_commas(client, tenant, book):
    assert listed(client, tenant, book, status="new") == ["linus", "ada"]
    assert sorted(listed(client, tenant, book, status=["contacted", "engaged"])) == ["alan", "grace"]
    assert sorted(listed(client, tenant, book, status="contacted,qualified")) == ["edsger", "grace"]
    bad = client.get(URL, params={"status": "new,bogus"}, headers=tenant.user.headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["field"].startswith("status")


def test_intent_tier_filter(client, tenant, book):
    assert sorted(listed(client, tenant, book, intentTier="hot,burning")) == ["ada", "grace"]
    assert listed(client, tenant, book, intentTier="low") == ["edsger"]
    assert client.get(URL, params={"intentTier": "lukewarm"}, headers=tenant.user.headers).status_code == 422


def test_owner_filter(client, tenant, book):
    assert sorted(listed(client, tenant, book, ownerId=str(tenant.admin.id))) == ["alan", "edsger"]
    assert listed(client, tenant, book, ownerId=str(tenant.viewer.id)) == []
    bad = client.get(URL, params={"ownerId": "me"}, headers=tenant.user.headers)
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "ownerId"


def test_score_range_filters(client, tenant, book):
    assert sorted(listed(client, tenant, book, minPriorityScore=40, maxPriorityScore=70)) == \
        ["alan", "grace", "linus"]
    assert listed(client, tenant, book, minIntentScore=61) == ["ada"]
    assert sorted(listed(client, tenant, book, maxQualificationScore=50)) == ["alan", "grace"]
    assert listed(client, tenant, book, minPriorityScore=95, maxPriorityScore=95) == ["ada"]


@pytest.mark.parametrize("params, field", [
    ({"minPriorityScore": 80, "maxPriorityScore": 20}, "priorityScore"),
    ({"minIntentScore": 2, "maxIntentScore": 1}, "intentScore"),
    ({"minQualificationScore": 100, "maxQualificationScore": 0}, "qualificationScore"),
    ({"minPriorityScore": 101}, "minPriorityScore"),
    ({"maxIntentScore": -1}, "maxIntentScore"),
    ({"minQualificationScore": "high"}, "minQualificationScore"),
])
def test_bad_score_ranges_are_422(client, tenant, params, field):
    response = client.get(URL, params=params, headers=tenant.user.headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == field


def test_company_filter_is_case_insensitive_substring(client, tenant, book):
    assert sorted(listed(client, tenant, book, company="ANALYTICAL")) == ["ada", "edsger"]
    # LIKE wildcards in the input are literal
    assert listed(client, tenant, book, company="100%") == ["alan"]
    assert listed(client, tenant, book, company="MIT_") == ["barbara"]
    assert listed(client, tenant, book, company="%") == ["alan"]


def test_free_text_search(client, tenant, book):
    assert listed(client, tenant, book, q="hopper") == ["grace"]
    assert listed(client, tenant, book, q="Grace Hopper") == ["grace"]
    assert sorted(listed(client, tenant, book, q="professor")) == ["barbara", "edsger"]
    assert listed(client, tenant, book, q=book["linus"].email.upper()) == ["linus"]
    assert listed(client, tenant, book, q="_") == ["barbara"]
    assert listed(client, tenant, book, q="nobody-matches-this") == []


def test_created_range(client, tenant, book):
    after = (T0 + timedelta(days=2)).isoformat()
    before = (T0 + timedelta(days=4)).isoformat()
    assert listed(client, tenant, book, createdAfter=after, createdBefore=before) == ["edsger", "alan"]
    assert listed(client, tenant, book, createdBefore=T0.isoformat()) == []
    bad = client.get(URL, params={"createdAfter": "yesterday"}, headers=tenant.user.headers)
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "createdAfter"


def test_filters_combine(client, tenant, book):
    assert listed(client, tenant, book, ownerId=str(tenant.user.id), status="new,contacted",
                  minPriorityScore=80) == ["ada"]


def test_sort(client, tenant, book):
    assert listed(client, tenant, book, sort="-priorityScore") == \
        ["ada", "grace", "linus", "alan", "edsger", "barbara"]
    assert listed(client, tenant, book, sort="priorityScore") == \
        ["edsger", "alan", "linus", "grace", "ada", "barbara"]
    assert listed(client, tenant, book, sort="lastName") == \
        ["edsger", "grace", "barbara", "ada", "linus", "alan"]
    assert listed(client, tenant, book, sort="company,-createdAt")[-1] == "linus"
    assert listed(client, tenant, book, sort="createdAt")[0] == "ada"
    # snake_case is accepted as everywhere else
    assert listed(client, tenant, book, sort="-priority_score") == listed(client, tenant, book, sort="-priorityScore")


def test_unknown_sort_field_is_422(client, tenant, book):
    for sort in ("password", "-createdAt,shoeSize", "shoe_size"):
        response = client.get(URL, params={"sort": sort}, headers=tenant.user.headers)
        assert response.status_code == 422, sort
        details = response.json()["error"]["details"]
        assert details["field"] == "sort"
        assert "createdAt" in details["allowed"]


def test_pagination_envelope(client, tenant, book):
    pages = [client.get(URL, params={"limit": 4, "page": n, "sort": "createdAt"}, headers=tenant.user.headers)
             for n in (1, 2, 3)]
    assert [p.json()["pagination"] for p in pages] == [
        {"page": n, "limit": 4, "total": 6, "pages": 2} for n in (1, 2, 3)
    ]
    assert names(book, pages[0]) == ["ada", "grace", "alan", "edsger"]
    assert names(book, pages[1]) == ["barbara", "linus"]
    assert pages[2].json()["data"] == []
    exact = client.get(URL, params={"limit": 3}, headers=tenant.user.headers).json()["pagination"]
    assert exact["pages"] == 2
    filtered = client.get(URL, params={"limit": 4, "status": "new"}, headers=tenant.user.headers).json()
    assert filtered["pagination"] == {"page": 1, "limit": 4, "total": 2, "pages": 1}
    empty = client.get(URL, params={"q": "zzz-nothing"}, headers=tenant.user.headers).json()
    assert empty == {"data": [], "pagination": {"page": 1, "limit": 50, "total": 0, "pages": 0}}


@pytest.mark.parametrize("params, field", [
    ({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"page": 0}, "page"), ({"page": "two"}, "page"),
])
def test_bad_pagination_is_422(client, tenant, params, field):
    response = client.get(URL, params=params, headers=tenant.user.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == field

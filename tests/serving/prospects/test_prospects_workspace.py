"""What the rep's list needs beyond plain filters: custom-field and last-contacted filters, bulk actions that
change everything or nothing, and saved views (mine, shared, and who may change them)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from serving.audit.models import AuditLog
from serving.core.outbox import DomainEvent
from serving.prospects.models import Prospect
from tests.factories import unique_email

URL = "/api/v1/prospects"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def book(tenant):
    rows = {
        "fintech_csv": dict(custom_fields={"industry": "fintech", "seats": "250"}, last_contacted_at=T0),
        "fintech_api": dict(custom_fields={"industry": "fintech", "seats": 250, "partner": True},
                            last_contacted_at=T0 + timedelta(days=10)),
        "retail": dict(custom_fields={"industry": "retail", "seats": 40}, last_contacted_at=None),
        "blank": dict(custom_fields={}, last_contacted_at=None),
    }
    return {name: tenant.add(Prospect, email=unique_email(name), first_name=name, owner_id=tenant.user.id,
                             **values) for name, values in rows.items()}


def listed(client, tenant, book, **params) -> list[str]:
    response = client.get(URL, params=params, headers=tenant.user.headers)
    assert response.status_code == 200, response.text
    by_id = {str(p.id): name for name, p in book.items()}
    return sorted(by_id[item["id"]] for item in response.json()["data"] if item["id"] in by_id)


def test_custom_field_filter_matches_text_numbers_and_booleans(client, tenant, book):
    assert listed(client, tenant, book, customField="industry:fintech") == ["fintech_api", "fintech_csv"]
    # "250" is text in one row and a number in the other: both are the value the rep typed
    assert listed(client, tenant, book, customField="seats:250") == ["fintech_api", "fintech_csv"]
    assert listed(client, tenant, book, customField=["industry:fintech", "partner:true"]) == ["fintech_api"]
    assert listed(client, tenant, book, customField="industry:Fintech") == []


@pytest.mark.parametrize("bad", ["industry", ":fintech", "k" * 65 + ":x"])
def test_a_malformed_custom_field_filter_is_a_clear_422(client, tenant, bad):
    response = client.get(URL, params={"customField": bad}, headers=tenant.user.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "customField"


def test_last_contacted_filters(client, tenant, book):
    assert listed(client, tenant, book, neverContacted="true") == ["blank", "retail"]
    assert listed(client, tenant, book, neverContacted="false") == ["fintech_api", "fintech_csv"]
    after = (T0 + timedelta(days=1)).isoformat()
    assert listed(client, tenant, book, lastContactedAfter=after) == ["fintech_api"]
    assert listed(client, tenant, book, lastContactedBefore=after) == ["fintech_csv"]


# -- bulk -------------------------------------------------------------------------------------------------------

def bulk(client, who, **body):
    return client.post(f"{URL}/bulk", json=body, headers=who.headers)


def test_bulk_assign_changes_each_prospect_publishes_and_audits(client, tenant, book):
    ids = [str(book["retail"].id), str(book["blank"].id)]
    response = bulk(client, tenant.user, prospectIds=ids, action="assign_owner", ownerId=str(tenant.admin.id))
    assert response.status_code == 200, response.text
    assert response.json() == {"action": "assign_owner", "requested": 2, "changed": 2, "unchanged": 0}
    with tenant.session() as db:
        owners = {db.get(Prospect, uuid.UUID(i)).owner_id for i in ids}
        events = db.query(DomainEvent).filter(DomainEvent.type == "prospect.updated",
                                              DomainEvent.subject_id.in_([uuid.UUID(i) for i in ids])).count()
        audited = db.query(AuditLog).filter(AuditLog.action == "bulk_assign_owner",
                                            AuditLog.organization_id == tenant.organization_id).count()
    assert owners == {tenant.admin.id}
    assert events == 2 and audited == 1
    again = bulk(client, tenant.user, prospectIds=ids, action="assign_owner", ownerId=str(tenant.admin.id))
    assert again.json()["unchanged"] == 2
    unassigned = bulk(client, tenant.user, prospectIds=ids[:1], action="assign_owner", ownerId=None)
    assert unassigned.json()["changed"] == 1


def test_bulk_is_all_or_nothing_when_an_id_is_missing(client, tenant, other_tenant, book):
    foreign = other_tenant.add(Prospect, email=unique_email("theirs"))
    ids = [str(book["retail"].id), str(foreign.id)]
    response = bulk(client, tenant.user, prospectIds=ids, action="set_status", status="qualified")
    assert response.status_code == 404
    assert response.json()["error"]["details"]["ids"] == [str(foreign.id)]
    with tenant.session() as db:
        assert db.get(Prospect, book["retail"].id).status == "new"
    with other_tenant.session() as db:
        assert db.get(Prospect, foreign.id).status == "new"


def test_bulk_status_and_delete(client, tenant, book):
    ids = [str(book["fintech_csv"].id), str(book["fintech_api"].id)]
    assert bulk(client, tenant.user, prospectIds=ids, action="set_status", status="nurture").json()["changed"] == 2
    deleted = bulk(client, tenant.user, prospectIds=ids, action="delete")
    assert deleted.json()["changed"] == 2
    assert client.get(f"{URL}/{ids[0]}", headers=tenant.user.headers).status_code == 404


@pytest.mark.parametrize("body", [
    {"action": "set_status"},  # no status
    {"action": "assign_owner"},  # no ownerId at all (null would unassign)
    {"action": "archive"},
    {"action": "delete", "prospectIds": []},
])
def test_bulk_refuses_incomplete_requests(client, tenant, book, body):
    body = {"prospectIds": [str(book["blank"].id)], **body}
    response = client.post(f"{URL}/bulk", json=body, headers=tenant.user.headers)
    assert response.status_code == 422, response.text


def test_viewers_cannot_bulk_change(client, tenant, book):
    response = bulk(client, tenant.viewer, prospectIds=[str(book["blank"].id)], action="delete")
    assert response.status_code == 403


# -- saved views ------------------------------------------------------------------------------------------------

HOT_FINTECH = {"intentTier": ["hot", "burning"], "customField": ["industry:fintech"], "minPriorityScore": 60,
               "sort": "-priorityScore"}


def make_view(client, who, name="Hot fintech", filters=HOT_FINTECH, shared=False):
    return client.post(f"{URL}/views", json={"name": name, "filters": filters, "shared": shared},
                       headers=who.headers)


def test_a_saved_view_keeps_the_filters_as_the_list_takes_them(client, tenant):
    response = make_view(client, tenant.user)
    assert response.status_code == 201, response.text
    view = response.json()
    assert view["filters"] == HOT_FINTECH and view["mine"] is True and view["shared"] is False
    # the stored filters are the list's own query: they can be sent back as they are
    listed_ = client.get(URL, params=view["filters"], headers=tenant.user.headers)
    assert listed_.status_code == 200


def test_private_and_shared_views_and_who_may_change_them(client, tenant):
    private = make_view(client, tenant.user, name="Mine only").json()
    shared = make_view(client, tenant.user, name="Team view", shared=True).json()
    seen_by_admin = client.get(f"{URL}/views", headers=tenant.admin.headers).json()["data"]
    assert [v["name"] for v in seen_by_admin] == ["Team view"] and seen_by_admin[0]["mine"] is False
    assert client.get(f"{URL}/views/{private['id']}", headers=tenant.admin.headers).status_code == 404
    viewer_edit = client.put(f"{URL}/views/{shared['id']}", json={"name": "Renamed"}, headers=tenant.viewer.headers)
    assert viewer_edit.status_code == 403
    assert viewer_edit.json()["error"]["code"] == "NOT_VIEW_OWNER"
    admin_edit = client.put(f"{URL}/views/{shared['id']}", json={"shared": False}, headers=tenant.admin.headers)
    assert admin_edit.status_code == 200 and admin_edit.json()["shared"] is False
    assert client.delete(f"{URL}/views/{private['id']}", headers=tenant.user.headers).status_code == 204
    assert client.get(f"{URL}/views", headers=tenant.user.headers).json()["pagination"]["total"] == 1


def test_view_names_are_unique_per_user_and_filters_are_validated(client, tenant):
    assert make_view(client, tenant.user).status_code == 201
    duplicate = make_view(client, tenant.user)
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "DUPLICATE_VIEW_NAME"
    assert make_view(client, tenant.admin).status_code == 201  # another user may use the same name
    for bad in ({"status": ["bogus"]}, {"minPriorityScore": 101}, {"unknown": 1}):
        assert make_view(client, tenant.user, name="Bad", filters=bad).status_code == 422


def test_views_never_cross_organizations(client, tenant, other_tenant):
    theirs = make_view(client, other_tenant.admin, name="Theirs", shared=True).json()
    assert client.get(f"{URL}/views", headers=tenant.admin.headers).json()["data"] == []
    for method in ("get", "put", "delete"):
        kwargs = {"json": {"name": "x"}} if method == "put" else {}
        response = getattr(client, method)(f"{URL}/views/{theirs['id']}", headers=tenant.admin.headers, **kwargs)
        assert response.status_code == 404


# -- search on a large book --------------------------------------------------------------------------------------

def test_a_search_says_how_it_matched(client, tenant):
    tenant.add(Prospect, email=unique_email("ada"), first_name="Ada", last_name="Lovelace", company="Engines")
    response = client.get(URL, params={"q": "ovelace"}, headers=tenant.user.headers)
    assert response.headers["X-Search-Mode"] == "substring" and len(response.json()["data"]) == 1
    assert "X-Search-Mode" not in client.get(URL, headers=tenant.user.headers).headers


def test_a_search_that_outruns_its_budget_answers_by_word_prefixes(client, tenant, monkeypatch):
    from sqlalchemy import Text, cast, func

    from serving.prospects import service

    tenant.add(Prospect, email=unique_email("ada"), first_name="Ada", last_name="Lovelace", company="Engines")
    tenant.add(Prospect, email=unique_email("bob"), first_name="Bob", last_name="Smith", company="Loveless Ltd")
    original = service.contains_any
    # a substring scan as slow as one over a million rows: every row sleeps, and the budget is 50 ms
    monkeypatch.setattr(service, "contains_any", lambda q, *columns: (cast(func.pg_sleep(0.2), Text) == "x")
                        | original(q, *columns))
    monkeypatch.setattr(service, "SEARCH_BUDGET_MS", 50)
    response = client.get(URL, params={"q": "love"}, headers=tenant.user.headers)
    assert response.status_code == 200 and response.headers["X-Search-Mode"] == "words"
    assert sorted(p["lastName"] for p in response.json()["data"]) == ["Lovelace", "Smith"]  # "Loveless Ltd"
    words = client.get(URL, params={"q": "ada love"}, headers=tenant.user.headers).json()["data"]
    assert [p["lastName"] for p in words] == ["Lovelace"]  # every word must start one of the fields' words
    inside = client.get(URL, params={"q": "ovelace"}, headers=tenant.user.headers).json()["data"]
    assert inside == []  # by words, a fragment inside a word does not match: that is what the header says

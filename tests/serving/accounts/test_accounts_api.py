"""Accounts through the API: CRUD, domain rules, filters, hierarchy, related records, auth and tenancy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from serving.accounts.models import Account
from serving.activities.models import Activity, ActivityType
from serving.audit.models import AuditLog
from serving.deals.models import Deal
from serving.prospects.models import Prospect
from tests.factories import unique_email

API = "/api/v1/accounts"


def _domain() -> str:
    return f"acme-{uuid.uuid4().hex[:8]}.com"


def _create(client, member, **payload) -> dict:
    payload.setdefault("name", "Acme Corp")
    response = client.post(API, json=payload, headers=member.headers)
    assert response.status_code == 201, response.text
    return response.json()


# -- create / read ---------------------------------------------------------------------------------

def test_create_normalises_domain_and_reads_back(client, tenant):
    host = _domain()
    body = _create(client, tenant.user, name="Acme Corp", domain=f"https://WWW.{host.upper()}:443/about",
                   industry="SaaS", employeeCount=250, annualRevenue=12500000.5, website="https://acme.example",
                   phone="(415) 555-2671", customFields={"tier": "gold"})
    assert body["domain"] == host
    assert body["employeeCount"] == 250
    assert body["annualRevenue"] == 12500000.5
    assert body["phone"] == "+14155552671"
    assert body["ownerId"] == str(tenant.user.id)
    assert body["teamId"] == str(tenant.team_id)
    assert body["parentAccountId"] is None
    assert body["healthScore"] is None
    fetched = client.get(f"{API}/{body['id']}", headers=tenant.viewer.headers)
    assert fetched.status_code == 200
    assert fetched.json() == body


def test_snake_case_input_is_accepted(client, tenant):
    body = _create(client, tenant.user, name="Snake", employee_count=3, annual_revenue=10)
    assert body["employeeCount"] == 3 and body["annualRevenue"] == 10


def test_duplicate_domain_is_refused_within_an_org_only(client, tenant, other_tenant):
    host = _domain()
    _create(client, tenant.user, domain=host)
    again = client.post(API, json={"name": "Again", "domain": f"http://www.{host}/"}, headers=tenant.user.headers)
    assert again.status_code == 409
    error = again.json()["error"]
    assert error["code"] == "DUPLICATE_DOMAIN"
    assert error["details"]["field"] == "domain"
    assert client.post(API, json={"name": "Elsewhere", "domain": host},
                       headers=other_tenant.user.headers).status_code == 201


@pytest.mark.parametrize(("payload", "field"), [
    ({"domain": "not a domain"}, "domain"),
    ({"domain": "localhost"}, "domain"),
    ({"domain": "10.0.0.1"}, "domain"),
    ({"employeeCount": -1}, "employeeCount"),
    ({"annualRevenue": -5}, "annualRevenue"),
    ({"annualRevenue": 1.234}, "annualRevenue"),
    ({"website": "not a url"}, "website"),
    ({"phone": "123"}, "phone"),
    ({"name": ""}, "name"),
    ({"nmae": "typo"}, "nmae"),
])
def test_create_validation_errors_name_the_field(client, shared_tenant, payload, field):
    response = client.post(API, json={"name": "Valid", **payload}, headers=shared_tenant.user.headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == field


def test_missing_name_is_a_validation_error(client, tenant):
    response = client.post(API, json={"domain": _domain()}, headers=tenant.user.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "name"


def test_references_to_another_tenant_are_refused(client, tenant, other_tenant):
    foreign = _create(client, other_tenant.user, name="Foreign")
    for payload, field in (({"parentAccountId": foreign["id"]}, "parentAccountId"),
                           ({"ownerId": str(other_tenant.user.id)}, "ownerId"),
                           ({"teamId": str(other_tenant.team_id)}, "teamId")):
        response = client.post(API, json={"name": "Mine", **payload}, headers=tenant.user.headers)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["details"]["field"] == field
    mine = _create(client, tenant.user, name="Mine")
    response = client.put(f"{API}/{mine['id']}", json={"parentAccountId": foreign["id"]},
                          headers=tenant.user.headers)
    assert response.status_code == 422


def test_idempotent_create_replays_the_first_response(client, tenant, owner_session):
    headers = {**tenant.user.headers, "Idempotency-Key": uuid.uuid4().hex}
    payload = {"name": "Once", "domain": _domain()}
    first = client.post(API, json=payload, headers=headers)
    second = client.post(API, json=payload, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.json() == first.json()
    rows = owner_session.scalars(select(Account).where(Account.organization_id == tenant.organization_id,
                                                       Account.domain == payload["domain"])).all()
    assert len(rows) == 1


# -- list ------------------------------------------------------------------------------------------

def test_list_filters_sort_and_pagination(client, tenant, other_tenant):
    parent = _create(client, tenant.user, name="Parent Holdings", industry="Finance")
    small = _create(client, tenant.user, name="Small Co", domain="small-widgets.io", industry="SaaS",
                    employeeCount=10, annualRevenue=1_000_000, parentAccountId=parent["id"])
    big = _create(client, tenant.admin, name="Big Co", industry="saas", employeeCount=5000,
                  annualRevenue=900_000_000)
    _create(client, other_tenant.user, name="Small Co", industry="SaaS")
    headers = tenant.viewer.headers

    def ids(**params):
        response = client.get(API, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()["data"]]

    assert set(ids()) == {parent["id"], small["id"], big["id"]}
    assert set(ids(industry="SaaS")) == {small["id"], big["id"]}
    assert set(ids(industry="finance,saas")) == {parent["id"], small["id"], big["id"]}
    assert ids(ownerId=str(tenant.admin.id)) == [big["id"]]
    assert ids(parentAccountId=parent["id"]) == [small["id"]]
    assert ids(q="widgets") == [small["id"]]
    assert ids(q="big") == [big["id"]]
    assert ids(minEmployeeCount=100) == [big["id"]]
    assert ids(maxEmployeeCount=100) == [small["id"]]
    assert ids(minAnnualRevenue=500_000, maxAnnualRevenue=2_000_000) == [small["id"]]
    assert ids(sort="-employeeCount") == [big["id"], small["id"], parent["id"]]
    assert ids(sort="name") == [big["id"], parent["id"], small["id"]]

    page = client.get(API, params={"limit": 2, "page": 2, "sort": "name"}, headers=headers).json()
    assert page["pagination"] == {"page": 2, "limit": 2, "total": 3, "pages": 2}
    assert [a["id"] for a in page["data"]] == [small["id"]]


def test_list_refuses_bad_ranges_and_sort_fields(client, tenant):
    response = client.get(API, params={"minEmployeeCount": 10, "maxEmployeeCount": 5}, headers=tenant.user.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "employeeCount"
    response = client.get(API, params={"sort": "password"}, headers=tenant.user.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "sort"
    response = client.get(API, params={"minAnnualRevenue": -1}, headers=tenant.user.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "minAnnualRevenue"


# -- update / delete -------------------------------------------------------------------------------

def test_update_changes_only_the_fields_sent_and_is_audited(client, tenant, owner_session):
    account = _create(client, tenant.user, name="Before", industry="SaaS", employeeCount=10, domain=_domain())
    response = client.put(f"{API}/{account['id']}", json={"name": "After", "domain": "WWW.After-Corp.com"},
                          headers=tenant.user.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "After"
    assert body["domain"] == "after-corp.com"
    assert body["industry"] == "SaaS" and body["employeeCount"] == 10
    cleared = client.put(f"{API}/{account['id']}", json={"industry": None}, headers=tenant.user.headers).json()
    assert cleared["industry"] is None and cleared["name"] == "After"
    audit = owner_session.scalars(select(AuditLog).where(AuditLog.entity_id == account["id"],
                                                         AuditLog.action == "update").order_by(AuditLog.id)).all()
    assert [set(a.changes) for a in audit] == [{"name", "domain"}, {"industry"}]
    assert audit[0].changes["name"] == {"from": "Before", "to": "After"}
    assert audit[0].actor_user_id == tenant.user.id


def test_update_validation_and_duplicate_domain(client, tenant):
    host = _domain()
    _create(client, tenant.user, name="Holder", domain=host)
    account = _create(client, tenant.user, name="Other")
    response = client.put(f"{API}/{account['id']}", json={"name": None}, headers=tenant.user.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "name"
    response = client.put(f"{API}/{account['id']}", json={"domain": host.upper()}, headers=tenant.user.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "DUPLICATE_DOMAIN"
    # keeping its own domain is not a duplicate
    own = _create(client, tenant.user, name="Own", domain=_domain())
    assert client.put(f"{API}/{own['id']}", json={"domain": own["domain"]},
                      headers=tenant.user.headers).status_code == 200


def test_update_unknown_account_is_404(client, tenant):
    response = client.put(f"{API}/{uuid.uuid4()}", json={"name": "x"}, headers=tenant.user.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_delete_moves_children_up_and_keeps_other_timelines(client, tenant, owner_session):
    top = _create(client, tenant.user, name="Top")
    middle = _create(client, tenant.user, name="Middle", parentAccountId=top["id"])
    leaf = _create(client, tenant.user, name="Leaf", parentAccountId=middle["id"])
    prospect = tenant.add(Prospect, email=unique_email(), account_id=uuid.UUID(middle["id"]))
    kept = tenant.add(Activity, type=ActivityType.note_added, prospect_id=prospect.id,
                      account_id=uuid.UUID(middle["id"]))
    dropped = tenant.add(Activity, type=ActivityType.note_added, account_id=uuid.UUID(middle["id"]))

    response = client.delete(f"{API}/{middle['id']}", headers=tenant.user.headers)
    assert response.status_code == 204
    assert client.get(f"{API}/{middle['id']}", headers=tenant.user.headers).status_code == 404
    assert client.get(f"{API}/{leaf['id']}", headers=tenant.user.headers).json()["parentAccountId"] == top["id"]
    assert owner_session.get(Activity, kept.id).account_id is None
    assert owner_session.get(Activity, dropped.id) is None
    assert owner_session.get(Prospect, prospect.id).account_id is None
    assert client.delete(f"{API}/{middle['id']}", headers=tenant.user.headers).status_code == 404


# -- hierarchy -------------------------------------------------------------------------------------

def _tree(client, member):
    """root → (a → a1, b)"""
    root = _create(client, member, name="Root")
    a = _create(client, member, name="A", parentAccountId=root["id"])
    b = _create(client, member, name="B", parentAccountId=root["id"])
    a1 = _create(client, member, name="A1", parentAccountId=a["id"])
    return root, a, b, a1


def test_children_and_hierarchy(client, tenant):
    root, a, b, a1 = _tree(client, tenant.user)
    children = client.get(f"{API}/{root['id']}/children", headers=tenant.viewer.headers)
    assert children.status_code == 200
    assert [c["id"] for c in children.json()["data"]] == [a["id"], b["id"]]

    view = client.get(f"{API}/{a1['id']}/hierarchy", headers=tenant.viewer.headers).json()
    assert view["account"]["id"] == a1["id"]
    assert [x["id"] for x in view["ancestors"]] == [root["id"], a["id"]]
    assert view["descendants"] == [] and view["descendantCount"] == 0

    view = client.get(f"{API}/{root['id']}/hierarchy", headers=tenant.viewer.headers).json()
    assert view["ancestors"] == []
    assert view["descendantCount"] == 3 and view["truncated"] is False
    top = {n["id"]: n for n in view["descendants"]}
    assert set(top) == {a["id"], b["id"]}
    assert top[a["id"]]["depth"] == 1
    assert [(n["id"], n["depth"]) for n in top[a["id"]]["children"]] == [(a1["id"], 2)]
    assert top[b["id"]]["children"] == []


def test_hierarchy_cycles_are_refused(client, tenant):
    root, a, _b, a1 = _tree(client, tenant.user)
    own = client.put(f"{API}/{a['id']}", json={"parentAccountId": a["id"]}, headers=tenant.user.headers)
    assert own.status_code == 422
    assert own.json()["error"]["details"]["field"] == "parentAccountId"
    assert "own parent" in own.json()["error"]["message"]
    for descendant in (a1, a):
        response = client.put(f"{API}/{root['id']}", json={"parentAccountId": descendant["id"]},
                              headers=tenant.user.headers)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert "cycle" in error["message"]
        assert error["details"]["path"][0] == root["id"]
    # moving a subtree elsewhere (not below itself) is fine
    b2 = _create(client, tenant.user, name="B2")
    moved = client.put(f"{API}/{a['id']}", json={"parentAccountId": b2["id"]}, headers=tenant.user.headers)
    assert moved.status_code == 200 and moved.json()["parentAccountId"] == b2["id"]


def test_hierarchy_walk_survives_a_cycle_written_outside_the_api(client, tenant):
    x = _create(client, tenant.user, name="X")
    y = _create(client, tenant.user, name="Y", parentAccountId=x["id"])
    with tenant.session() as session, session.begin():
        session.get(Account, uuid.UUID(x["id"])).parent_account_id = uuid.UUID(y["id"])
    view = client.get(f"{API}/{x['id']}/hierarchy", headers=tenant.user.headers)
    assert view.status_code == 200
    assert [a["id"] for a in view.json()["ancestors"]] == [y["id"]]
    assert [n["id"] for n in view.json()["descendants"]] == [y["id"]]


# -- related records -------------------------------------------------------------------------------

def test_contacts_deals_and_timeline_of_an_account(client, tenant):
    account = _create(client, tenant.user, name="Timeline Co")
    account_id = uuid.UUID(account["id"])
    other = _create(client, tenant.user, name="Unrelated")
    prospect = tenant.add(Prospect, email=unique_email(), account_id=account_id)
    tenant.add(Prospect, email=unique_email(), account_id=uuid.UUID(other["id"]))
    deal = tenant.add(Deal, name="Expansion", account_id=account_id, forecast_category="pipeline")
    now = datetime.now(UTC)
    on_account = tenant.add(Activity, type=ActivityType.note_added, account_id=account_id,
                            occurred_at=now - timedelta(hours=3))
    # the prospect's and deal's activities carry no account id: the timeline finds them through their links
    on_prospect = tenant.add(Activity, type=ActivityType.email_sent, prospect_id=prospect.id,
                             occurred_at=now - timedelta(hours=2))
    on_deal = tenant.add(Activity, type=ActivityType.meeting_completed, deal_id=deal.id,
                         occurred_at=now - timedelta(hours=1))
    tenant.add(Activity, type=ActivityType.note_added, account_id=uuid.UUID(other["id"]))

    contacts = client.get(f"{API}/{account['id']}/contacts", headers=tenant.viewer.headers)
    assert contacts.status_code == 200
    assert [p["id"] for p in contacts.json()["data"]] == [str(prospect.id)]
    deals = client.get(f"{API}/{account['id']}/deals", headers=tenant.viewer.headers)
    assert deals.status_code == 200
    assert [d["id"] for d in deals.json()["data"]] == [str(deal.id)]
    timeline = client.get(f"{API}/{account['id']}/activities", headers=tenant.viewer.headers)
    assert timeline.status_code == 200
    assert [a["id"] for a in timeline.json()["data"]] == [str(on_deal.id), str(on_prospect.id), str(on_account.id)]
    assert timeline.json()["pagination"]["total"] == 3


# -- auth and tenancy ------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), [
    ("get", ""), ("post", ""), ("get", "/{id}"), ("put", "/{id}"), ("delete", "/{id}"), ("get", "/{id}/children"),
    ("get", "/{id}/hierarchy"), ("get", "/{id}/contacts"), ("get", "/{id}/deals"), ("get", "/{id}/activities"),
])
def test_every_endpoint_needs_authentication(client, method, path):
    response = client.request(method, API + path.format(id=uuid.uuid4()), json={"name": "x"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_malformed_ids_are_validation_errors(client, shared_tenant):
    response = client.get(f"{API}/not-a-uuid/hierarchy", headers=shared_tenant.user.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == "account_id"


def test_auth_roles_and_scopes(client, tenant, key_headers):
    account = _create(client, tenant.user)
    assert client.get(API).status_code == 401
    assert client.get(f"{API}/{account['id']}").json()["error"]["code"] == "UNAUTHORIZED"
    for method, path, body in (("post", API, {"name": "v"}), ("put", f"{API}/{account['id']}", {"name": "v"}),
                               ("delete", f"{API}/{account['id']}", None)):
        response = client.request(method, path, json=body, headers=tenant.viewer.headers)
        assert response.status_code == 403, (method, response.text)
        assert response.json()["error"]["code"] == "INSUFFICIENT_ROLE"

    read_only = key_headers("accounts:read")
    assert client.get(f"{API}/{account['id']}", headers=read_only).status_code == 200
    response = client.post(API, json={"name": "k"}, headers=read_only)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "INSUFFICIENT_SCOPE"
    # related records need their own read scope as well
    for path in ("deals", "contacts", "activities"):
        response = client.get(f"{API}/{account['id']}/{path}", headers=read_only)
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "INSUFFICIENT_SCOPE"
    writer = key_headers("accounts:write", "accounts:read")
    assert client.post(API, json={"name": "by key"}, headers=writer).status_code == 201
    assert client.get(API, headers=key_headers("deals:read")).json()["error"]["code"] == "INSUFFICIENT_SCOPE"


def test_other_tenants_accounts_are_invisible(client, tenant, other_tenant):
    account = _create(client, tenant.user, name="Private Co")
    outsider = other_tenant.admin.headers
    for method, suffix, body in (("get", "", None), ("put", "", {"name": "stolen"}), ("delete", "", None),
                                 ("get", "/children", None), ("get", "/hierarchy", None),
                                 ("get", "/contacts", None), ("get", "/deals", None), ("get", "/activities", None)):
        response = client.request(method, f"{API}/{account['id']}{suffix}", json=body, headers=outsider)
        assert response.status_code == 404, (method, suffix, response.text)
        assert "Private Co" not in response.text
    listed = client.get(API, params={"limit": 500}, headers=outsider).json()["data"]
    assert account["id"] not in {a["id"] for a in listed}
    assert client.get(f"{API}/{account['id']}", headers=tenant.user.headers).json()["name"] == "Private Co"

"""Deals through the API: pipeline rules, stage history, filters, contacts, health, auth and tenancy."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text

from serving.accounts.models import Account
from serving.activities.models import Activity, ActivityType
from serving.deals.models import Deal
from serving.prospects.models import Prospect
from tests.factories import unique_email

API = "/api/v1/deals"


def _create(client, member, **payload) -> dict:
    payload.setdefault("name", "Acme - Platform")
    response = client.post(API, json=payload, headers=member.headers)
    assert response.status_code == 201, response.text
    return response.json()


def _put(client, member, deal_id, **payload) -> dict:
    response = client.put(f"{API}/{deal_id}", json=payload, headers=member.headers)
    assert response.status_code == 200, response.text
    return response.json()


# -- create / read ---------------------------------------------------------------------------------

def test_create_with_seed_payload_and_defaults(client, tenant):
    account = tenant.add(Account, name="Acme")
    body = _create(client, tenant.user, name="Acme - Platform", amount=50000, closeDate="2030-03-31",
                   accountId=str(account.id), currency="eur", nextStep="Demo on Friday", source="inbound")
    assert body["amount"] == 50000
    assert body["currency"] == "EUR"
    assert body["stage"] == "discovery"
    assert body["probability"] == 10
    assert body["forecastCategory"] == "pipeline" and body["forecastCategoryManual"] is False
    assert body["closeDate"] == "2030-03-31"
    assert body["accountId"] == str(account.id)
    assert body["ownerId"] == str(tenant.user.id) and body["teamId"] == str(tenant.team_id)
    assert body["nextStep"] == "Demo on Friday" and body["metadata"] == {"nextStep": "Demo on Friday"}
    assert body["stageChangedAt"] is not None and body["closedAt"] is None
    assert body["riskScore"] is None and body["aiAnalysis"] == {}
    fetched = client.get(f"{API}/{body['id']}", headers=tenant.viewer.headers)
    assert fetched.status_code == 200 and fetched.json() == body


def test_create_takes_probability_from_the_stage_unless_sent(client, tenant):
    assert _create(client, tenant.user, stage="proposal")["probability"] == 50
    custom = _create(client, tenant.user, stage="proposal", probability=80)
    assert custom["probability"] == 80 and custom["forecastCategory"] == "commit"
    won = _create(client, tenant.user, stage="closed_won", amount=10)
    assert won["probability"] == 100 and won["forecastCategory"] == "closed" and won["closedAt"] is not None


@pytest.mark.parametrize(("probability", "category"), [
    (0, "pipeline"), (24, "pipeline"), (25, "best_case"), (74, "best_case"),
    (75, "commit"), (89, "commit"), (90, "closed"), (100, "closed"),
])
def test_forecast_category_follows_the_bands(client, shared_tenant, probability, category):
    deal = _create(client, shared_tenant.user, stage="negotiation", probability=probability)
    assert deal["forecastCategory"] == category
    updated = _put(client, shared_tenant.user, _create(client, shared_tenant.user, stage="negotiation")["id"],
                   probability=probability)
    assert updated["forecastCategory"] == category


def test_manual_forecast_category_and_back_to_automatic(client, tenant):
    deal = _create(client, tenant.user, forecastCategory="commit")
    assert deal["forecastCategory"] == "commit" and deal["forecastCategoryManual"] is True
    moved = _put(client, tenant.user, deal["id"], stage="proposal")
    assert moved["forecastCategory"] == "commit" and moved["probability"] == 50
    automatic = _put(client, tenant.user, deal["id"], forecastCategory=None)
    assert automatic["forecastCategory"] == "best_case" and automatic["forecastCategoryManual"] is False


@pytest.mark.parametrize(("payload", "field"), [
    ({"amount": -1}, "amount"),
    ({"amount": 1.234}, "amount"),
    ({"probability": 101}, "probability"),
    ({"probability": -1}, "probability"),
    ({"currency": "US"}, "currency"),
    ({"currency": "XYZ"}, "currency"),
    ({"stage": "won"}, "stage"),
    ({"forecastCategory": "maybe"}, "forecastCategory"),
    ({"closeDate": "31/03/2030"}, "closeDate"),
    ({"name": ""}, "name"),
    ({"riskScore": 10}, "riskScore"),
    ({"stage": "closed_won", "probability": 60}, "probability"),
])
def test_create_validation_errors_name_the_field(client, shared_tenant, payload, field):
    response = client.post(API, json={"name": "Valid", **payload}, headers=shared_tenant.user.headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["field"] == field


def test_references_to_another_tenant_are_refused(client, tenant, other_tenant):
    foreign_account = other_tenant.add(Account, name="Foreign")
    for payload, field in (({"accountId": str(foreign_account.id)}, "accountId"),
                           ({"ownerId": str(other_tenant.admin.id)}, "ownerId"),
                           ({"teamId": str(other_tenant.team_id)}, "teamId")):
        response = client.post(API, json={"name": "Mine", **payload}, headers=tenant.user.headers)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["details"]["field"] == field
        deal = _create(client, tenant.user)
        response = client.put(f"{API}/{deal['id']}", json=payload, headers=tenant.user.headers)
        assert response.status_code == 422 and response.json()["error"]["details"]["field"] == field


def test_idempotent_create_replays_the_first_response(client, tenant, owner_session):
    name = f"Once {uuid.uuid4().hex[:6]}"
    headers = {**tenant.user.headers, "Idempotency-Key": uuid.uuid4().hex}
    first = client.post(API, json={"name": name, "amount": 5}, headers=headers)
    second = client.post(API, json={"name": name, "amount": 5}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.json() == first.json()
    assert len(owner_session.scalars(select(Deal).where(Deal.name == name)).all()) == 1
    reused = client.post(API, json={"name": name, "amount": 6}, headers=headers)
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


# -- update: stages and their history ---------------------------------------------------------------

def test_stage_change_is_recorded_as_an_activity(client, tenant, owner_session):
    account = tenant.add(Account, name="Acme")
    deal = _create(client, tenant.user, accountId=str(account.id), probability=15)
    updated = _put(client, tenant.user, deal["id"], stage="proposal")
    assert updated["probability"] == 50 and updated["forecastCategory"] == "best_case"
    assert updated["stageChangedAt"] > deal["stageChangedAt"]
    # The change and its event commit together; the timeline entry is the timeline subscriber's reaction.
    events = owner_session.execute(text(
        "select type, payload from app.domain_events where subject_id = :id order by recorded_at"),
        {"id": deal["id"]}).all()
    assert [e.type for e in events] == ["deal.created", "deal.stage_changed"]
    assert events[1].payload["fromStage"] == "discovery" and events[1].payload["toStage"] == "proposal"
    assert owner_session.scalars(select(Activity).where(Activity.deal_id == uuid.UUID(deal["id"]))).all() == []
    assert tenant.deliver_events().delivered >= 1
    rows = owner_session.scalars(select(Activity).where(Activity.deal_id == uuid.UUID(deal["id"]))).all()
    assert len(rows) == 1
    activity = rows[0]
    assert activity.type == ActivityType.status_change
    event_id = activity.metadata_.pop("eventId")
    assert activity.metadata_ == {"field": "stage", "from": "discovery", "to": "proposal"}
    assert event_id == str(owner_session.scalar(text(
        "select id from app.domain_events where subject_id = :id and type = 'deal.stage_changed'"), {"id": deal["id"]}))
    assert activity.account_id == account.id and activity.user_id == tenant.user.id

    timeline = client.get(f"{API}/{deal['id']}/activities", headers=tenant.viewer.headers)
    assert timeline.status_code == 200
    assert [a["metadata"] for a in timeline.json()["data"]] == [{"field": "stage", "from": "discovery",
                                                                 "to": "proposal", "eventId": event_id}]
    # same stage again: no new entry, the custom probability stays
    _put(client, tenant.user, deal["id"], probability=60)
    same = _put(client, tenant.user, deal["id"], stage="proposal", name="Renamed")
    assert same["probability"] == 60 and same["stageChangedAt"] == updated["stageChangedAt"]
    tenant.deliver_events()
    assert len(owner_session.scalars(select(Activity).where(Activity.deal_id == uuid.UUID(deal["id"]))).all()) == 1


def test_closing_and_reopening(client, tenant):
    deal = _create(client, tenant.user, stage="negotiation", forecastCategory="best_case")
    won = _put(client, tenant.user, deal["id"], stage="closed_won")
    assert won["probability"] == 100 and won["forecastCategory"] == "closed"
    assert won["forecastCategoryManual"] is False and won["closedAt"] is not None
    reopened = _put(client, tenant.user, deal["id"], stage="negotiation")
    assert reopened["probability"] == 75 and reopened["forecastCategory"] == "commit"
    assert reopened["closedAt"] is None
    lost = _put(client, tenant.user, deal["id"], stage="closed_lost", lostReason="budget")
    assert lost["probability"] == 0 and lost["forecastCategory"] == "omitted" and lost["lostReason"] == "budget"
    response = client.put(f"{API}/{deal['id']}", json={"probability": 40}, headers=tenant.user.headers)
    assert response.status_code == 422 and response.json()["error"]["details"]["field"] == "probability"


def test_update_changes_only_the_fields_sent(client, tenant):
    deal = _create(client, tenant.user, amount=100, closeDate="2030-01-01", nextStep="Call", metadata={"k": 1})
    updated = _put(client, tenant.user, deal["id"], amount=250.5)
    assert updated["amount"] == 250.5 and updated["closeDate"] == "2030-01-01" and updated["name"] == deal["name"]
    assert _put(client, tenant.user, deal["id"], metadata={"other": 2})["metadata"] == {"other": 2,
                                                                                       "nextStep": "Call"}
    assert _put(client, tenant.user, deal["id"], nextStep=None)["nextStep"] is None
    assert _put(client, tenant.user, deal["id"], closeDate=None)["closeDate"] is None
    for field in ("name", "amount", "stage", "currency"):
        response = client.put(f"{API}/{deal['id']}", json={field: None}, headers=tenant.user.headers)
        assert response.status_code == 422 and response.json()["error"]["details"]["field"] == field
    assert client.put(f"{API}/{uuid.uuid4()}", json={"name": "x"}, headers=tenant.user.headers).status_code == 404


def test_delete(client, tenant, owner_session):
    deal = _create(client, tenant.user)
    prospect = tenant.add(Prospect, email=unique_email())
    call = tenant.add(Activity, type=ActivityType.call_made, prospect_id=prospect.id, deal_id=uuid.UUID(deal["id"]))
    _put(client, tenant.user, deal["id"], stage="proposal")
    assert client.delete(f"{API}/{deal['id']}", headers=tenant.user.headers).status_code == 204
    assert client.get(f"{API}/{deal['id']}", headers=tenant.user.headers).status_code == 404
    assert client.delete(f"{API}/{deal['id']}", headers=tenant.user.headers).status_code == 404
    kept = owner_session.get(Activity, call.id)
    assert kept is not None and kept.deal_id is None  # stays on the prospect's timeline


# -- list ------------------------------------------------------------------------------------------

def test_list_filters_and_sort(client, tenant, other_tenant):
    acme = tenant.add(Account, name="Acme Widgets")
    a = _create(client, tenant.user, name="Alpha", amount=1000, stage="discovery", closeDate="2030-01-15",
                accountId=str(acme.id))
    b = _create(client, tenant.admin, name="Beta", amount=50000, stage="proposal", closeDate="2030-02-15")
    c = _create(client, tenant.user, name="Gamma", amount=20000, stage="negotiation", closeDate="2030-03-15",
                forecastCategory="omitted")
    _create(client, other_tenant.user, name="Alpha", amount=1000)

    def ids(**params):
        response = client.get(API, params=params, headers=tenant.viewer.headers)
        assert response.status_code == 200, response.text
        return [d["id"] for d in response.json()["data"]]

    assert set(ids()) == {a["id"], b["id"], c["id"]}
    assert set(ids(stage="discovery,proposal")) == {a["id"], b["id"]}
    assert set(ids(stage=["discovery", "negotiation"])) == {a["id"], c["id"]}
    assert ids(forecastCategory="omitted") == [c["id"]]
    assert ids(ownerId=str(tenant.admin.id)) == [b["id"]]
    assert ids(accountId=str(acme.id)) == [a["id"]]
    assert set(ids(teamId=str(tenant.team_id))) == {a["id"], b["id"], c["id"]}
    assert ids(closeDateFrom="2030-02-01", closeDateTo="2030-02-28") == [b["id"]]
    assert ids(minAmount=10000, maxAmount=30000) == [c["id"]]
    assert ids(q="gam") == [c["id"]]
    assert ids(q="widgets") == [a["id"]]
    assert ids(sort="-amount") == [b["id"], c["id"], a["id"]]
    assert ids(sort="probability") == [a["id"], b["id"], c["id"]]
    assert ids(sort="-closeDate") == [c["id"], b["id"], a["id"]]
    page = client.get(API, params={"sort": "amount", "limit": 1, "page": 3}, headers=tenant.user.headers).json()
    assert page["pagination"] == {"page": 3, "limit": 1, "total": 3, "pages": 3}
    assert [d["id"] for d in page["data"]] == [b["id"]]


@pytest.mark.parametrize(("params", "field"), [
    ({"stage": "won"}, "stage.0"),
    ({"minAmount": 10, "maxAmount": 1}, "amount"),
    ({"minAmount": -1}, "minAmount"),
    ({"closeDateFrom": "2030-02-01", "closeDateTo": "2030-01-01"}, "closeDate"),
    ({"sort": "secret"}, "sort"),
])
def test_list_validation_errors(client, shared_tenant, params, field):
    response = client.get(API, params=params, headers=shared_tenant.user.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["field"] == field


# -- contacts --------------------------------------------------------------------------------------

def test_deal_contacts(client, tenant, other_tenant, owner_session):
    deal = _create(client, tenant.user)
    first = tenant.add(Prospect, email=unique_email("champ"), first_name="Chris", title="VP Sales")
    second = tenant.add(Prospect, email=unique_email("cfo"))
    path = f"{API}/{deal['id']}/contacts"
    added = client.post(path, json={"prospectId": str(first.id), "role": "champion", "isPrimary": True},
                        headers=tenant.user.headers)
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["role"] == "champion" and body["isPrimary"] is True
    assert body["prospect"]["firstName"] == "Chris" and body["prospect"]["email"] == first.email
    headers = {**tenant.user.headers, "Idempotency-Key": uuid.uuid4().hex}
    payload = {"prospect_id": str(second.id), "role": "economic_buyer", "isPrimary": True}
    replay = [client.post(path, json=payload, headers=headers) for _ in range(2)]
    assert [r.status_code for r in replay] == [201, 201]
    assert replay[1].headers.get("Idempotent-Replayed") == "true"

    listed = client.get(path, headers=tenant.viewer.headers).json()
    assert [(c["prospectId"], c["isPrimary"]) for c in listed["data"]] == [(str(second.id), True),
                                                                         (str(first.id), False)]
    duplicate = client.post(path, json={"prospectId": str(first.id)}, headers=tenant.user.headers)
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "DUPLICATE_DEAL_CONTACT"
    invalid = client.post(path, json={"prospectId": str(first.id), "role": "boss"}, headers=tenant.user.headers)
    assert invalid.status_code == 422 and invalid.json()["error"]["details"]["field"] == "role"
    foreign = other_tenant.add(Prospect, email=unique_email())
    response = client.post(path, json={"prospectId": str(foreign.id)}, headers=tenant.user.headers)
    assert response.status_code == 422 and response.json()["error"]["details"]["field"] == "prospectId"

    assert client.delete(f"{path}/{first.id}", headers=tenant.viewer.headers).status_code == 403
    assert client.delete(f"{path}/{first.id}", headers=tenant.user.headers).status_code == 204
    assert client.delete(f"{path}/{first.id}", headers=tenant.user.headers).status_code == 404
    assert [c["prospectId"] for c in client.get(path, headers=tenant.user.headers).json()["data"]] == [str(second.id)]


# -- health ----------------------------------------------------------------------------------------

def test_rule_based_health(client, tenant, owner_session):
    deal = _create(client, tenant.user, stage="negotiation", closeDate=(date.today() - timedelta(days=3)).isoformat())
    with tenant.session() as session, session.begin():
        row = session.get(Deal, uuid.UUID(deal["id"]))
        row.stage_changed_at = datetime.now(UTC) - timedelta(days=30)
        row.created_at = datetime.now(UTC) - timedelta(days=60)
    response = client.get(f"{API}/{deal['id']}/health", headers=tenant.viewer.headers)
    assert response.status_code == 200, response.text
    health = response.json()
    assert health["source"] == "rules"
    assert {r["code"] for r in health["reasons"]} == {"stalled_in_stage", "no_recent_activity", "close_date_passed",
                                                      "single_threaded", "no_next_step"}
    assert health["riskScore"] == 100 and health["score"] == 0 and health["level"] == "critical"
    assert health["facts"]["daysInStage"] == 30 and health["facts"]["contactCount"] == 0

    for _ in range(2):
        prospect = tenant.add(Prospect, email=unique_email())
        client.post(f"{API}/{deal['id']}/contacts", json={"prospectId": str(prospect.id)},
                    headers=tenant.user.headers)
    # activity with a contact counts as engagement on the deal
    tenant.add(Activity, type=ActivityType.email_received, prospect_id=prospect.id)
    _put(client, tenant.user, deal["id"], nextStep="Legal review", closeDate="2031-01-01")
    health = client.get(f"{API}/{deal['id']}/health", headers=tenant.user.headers).json()
    assert [r["code"] for r in health["reasons"]] == ["stalled_in_stage"]
    assert health["riskScore"] == 25 and health["score"] == 75 and health["level"] == "healthy"


def test_pipeline_health_wins_when_present(client, tenant):
    deal = tenant.add(Deal, name="Scored", forecast_category="pipeline", risk_score=64,
                      ai_analysis={"reasons": [{"code": "champion_left", "message": "Champion left", "impact": 40}],
                                   "computedAt": "2025-06-01T00:00:00+00:00", "modelVersion": "v3"})
    health = client.get(f"{API}/{deal.id}/health", headers=tenant.user.headers).json()
    assert health["source"] == "pipeline"
    assert health["riskScore"] == 64 and health["score"] == 36 and health["level"] == "critical"
    assert health["reasons"] == [{"code": "champion_left", "message": "Champion left", "impact": 40}]
    assert health["modelVersion"] == "v3"


# -- auth and tenancy ------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), [
    ("get", ""), ("post", ""), ("get", "/{id}"), ("put", "/{id}"), ("delete", "/{id}"), ("get", "/{id}/health"),
    ("get", "/{id}/contacts"), ("post", "/{id}/contacts"), ("delete", "/{id}/contacts/{id}"),
    ("get", "/{id}/activities"),
])
def test_every_endpoint_needs_authentication(client, method, path):
    response = client.request(method, API + path.format(id=uuid.uuid4()), json={"name": "x"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_auth_roles_and_scopes(client, tenant, key_headers):
    deal = _create(client, tenant.user)
    assert client.get(API).status_code == 401
    assert client.get(f"{API}/{deal['id']}/health").status_code == 401
    prospect = tenant.add(Prospect, email=unique_email())
    for method, path, body in (("post", API, {"name": "v"}), ("put", f"{API}/{deal['id']}", {"name": "v"}),
                               ("delete", f"{API}/{deal['id']}", None),
                               ("post", f"{API}/{deal['id']}/contacts", {"prospectId": str(prospect.id)})):
        response = client.request(method, path, json=body, headers=tenant.viewer.headers)
        assert response.status_code == 403, (method, path, response.text)
    read_only = key_headers("deals:read")
    assert client.get(f"{API}/{deal['id']}/health", headers=read_only).status_code == 200
    for method, path, body in (("post", API, {"name": "k"}), ("put", f"{API}/{deal['id']}", {"name": "k"})):
        response = client.request(method, path, json=body, headers=read_only)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "INSUFFICIENT_SCOPE"
    for path in ("activities", "contacts"):
        response = client.get(f"{API}/{deal['id']}/{path}", headers=read_only)
        assert response.status_code == 403 and response.json()["error"]["code"] == "INSUFFICIENT_SCOPE"
    assert client.post(API, json={"name": "by key"}, headers=key_headers("deals:write")).status_code == 201


def test_other_tenants_deals_are_invisible(client, tenant, other_tenant):
    deal = _create(client, tenant.user, name="Secret Deal")
    prospect = tenant.add(Prospect, email=unique_email())
    client.post(f"{API}/{deal['id']}/contacts", json={"prospectId": str(prospect.id)}, headers=tenant.user.headers)
    outsider = other_tenant.admin.headers
    for method, suffix, body in (("get", "", None), ("put", "", {"name": "stolen"}), ("delete", "", None),
                                 ("get", "/health", None), ("get", "/contacts", None), ("get", "/activities", None),
                                 ("post", "/contacts", {"prospectId": str(prospect.id)}),
                                 ("delete", f"/contacts/{prospect.id}", None)):
        response = client.request(method, f"{API}/{deal['id']}{suffix}", json=body, headers=outsider)
        assert response.status_code == 404, (method, suffix, response.text)
        assert "Secret Deal" not in response.text
    assert deal["id"] not in {d["id"] for d in client.get(API, params={"limit": 500}, headers=outsider).json()["data"]}
    assert client.get(f"{API}/{deal['id']}", headers=tenant.user.headers).json()["name"] == "Secret Deal"

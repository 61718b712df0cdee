"""Call quick-logging: the call log, its timeline activity, the prospect's last contact; filters and access."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from serving.accounts.models import Account
from serving.activities.models import Activity, CallLog
from serving.deals.models import Deal
from serving.prospects.models import Prospect
from tests.factories import unique_email

API = "/api/v1/calls"


def _prospect(tenant, **values):
    return tenant.add(Prospect, email=unique_email(), **values)


def _log(client, member, **payload) -> dict:
    payload.setdefault("disposition", "answered")
    response = client.post(API, json=payload, headers=member.headers)
    assert response.status_code == 201, response.text
    return response.json()


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_quick_log_creates_the_call_and_its_activity(client, tenant, owner_session):
    account = tenant.add(Account, name="Acme")
    prospect = _prospect(tenant, account_id=account.id, phone="+14155552671")
    deal = tenant.add(Deal, name="Deal", account_id=account.id, forecast_category="pipeline")
    call = _log(client, tenant.user, prospectId=str(prospect.id), disposition="answered", durationSeconds=320,
                notes="Wants a demo next week", outcome="meeting booked", dealId=str(deal.id))
    assert call["disposition"] == "answered" and call["direction"] == "outbound"
    assert call["durationSeconds"] == 320 and call["outcome"] == "meeting booked"
    assert call["phoneNumber"] == "+14155552671" and call["userId"] == str(tenant.user.id)

    activity = owner_session.get(Activity, uuid.UUID(call["activityId"]))
    assert activity.type == "call_made"
    assert activity.prospect_id == prospect.id and activity.account_id == account.id and activity.deal_id == deal.id
    assert activity.description == "Wants a demo next week"
    assert activity.metadata_["callLogId"] == call["id"] and activity.metadata_["durationSeconds"] == 320
    assert activity.occurred_at == _parse(call["calledAt"])
    # the last contact time is the prospects domain's reaction to call.logged
    assert owner_session.get(Prospect, prospect.id).last_contacted_at is None
    assert tenant.deliver_events().dead == 0
    owner_session.expire_all()
    stored = owner_session.get(Prospect, prospect.id)
    assert stored.last_contacted_at == _parse(call["calledAt"])

    fetched = client.get(f"{API}/{call['id']}", headers=tenant.viewer.headers)
    assert fetched.status_code == 200 and fetched.json() == call
    timeline = client.get(f"/api/v1/prospects/{prospect.id}/activities", headers=tenant.viewer.headers).json()
    assert [a["id"] for a in timeline["data"]] == [call["activityId"]]


def test_inbound_call_and_last_contact_never_moves_back(client, tenant, owner_session):
    prospect = _prospect(tenant)
    recent = datetime.now(UTC) - timedelta(hours=1)
    inbound = _log(client, tenant.user, prospectId=str(prospect.id), direction="inbound", disposition="answered",
                   calledAt=recent.isoformat(), phoneNumber="(415) 555-2671")
    assert inbound["phoneNumber"] == "+14155552671"
    assert owner_session.get(Activity, uuid.UUID(inbound["activityId"])).type == "call_received"
    _log(client, tenant.user, prospectId=str(prospect.id), disposition="voicemail",
         calledAt=(recent - timedelta(days=3)).isoformat())
    tenant.deliver_events()
    owner_session.expire_all()
    assert owner_session.get(Prospect, prospect.id).last_contacted_at == recent


@pytest.mark.parametrize(("payload", "field"), [
    ({"disposition": "hung_up"}, "disposition"),
    ({"durationSeconds": -1}, "durationSeconds"),
    ({"direction": "sideways"}, "direction"),
    ({"calledAt": "soon"}, "calledAt"),
    ({"phoneNumber": "12"}, "phoneNumber"),
    ({"prospectId": None}, "prospectId"),
    ({"notez": "typo"}, "notez"),
])
def test_validation_errors_name_the_field(client, shared_tenant, payload, field):
    prospect = _prospect(shared_tenant)
    body = {"prospectId": str(prospect.id), "disposition": "answered", **payload}
    response = client.post(API, json=body, headers=shared_tenant.user.headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["details"]["field"] == field


def test_references_to_another_tenant_are_refused(client, tenant, other_tenant):
    mine = _prospect(tenant)
    foreign_prospect = _prospect(other_tenant)
    foreign_deal = other_tenant.add(Deal, name="Foreign", forecast_category="pipeline")
    response = client.post(API, json={"prospectId": str(foreign_prospect.id), "disposition": "busy"},
                           headers=tenant.user.headers)
    assert response.status_code == 422 and response.json()["error"]["details"]["field"] == "prospectId"
    response = client.post(API, json={"prospectId": str(mine.id), "disposition": "busy",
                                      "dealId": str(foreign_deal.id)}, headers=tenant.user.headers)
    assert response.status_code == 422 and response.json()["error"]["details"]["field"] == "dealId"


def test_idempotent_quick_log(client, tenant, owner_session):
    prospect = _prospect(tenant)
    headers = {**tenant.user.headers, "Idempotency-Key": uuid.uuid4().hex}
    payload = {"prospectId": str(prospect.id), "disposition": "no_answer"}
    first = client.post(API, json=payload, headers=headers)
    second = client.post(API, json=payload, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true" and second.json() == first.json()
    assert len(owner_session.scalars(select(CallLog).where(CallLog.prospect_id == prospect.id)).all()) == 1
    assert len(owner_session.scalars(select(Activity).where(Activity.prospect_id == prospect.id)).all()) == 1


def test_list_filters(client, tenant, other_tenant):
    first, second = _prospect(tenant), _prospect(tenant)
    deal = tenant.add(Deal, name="Deal", forecast_category="pipeline")
    now = datetime.now(UTC)
    a = _log(client, tenant.user, prospectId=str(first.id), disposition="answered", durationSeconds=60,
             calledAt=(now - timedelta(days=2)).isoformat(), dealId=str(deal.id))
    b = _log(client, tenant.admin, prospectId=str(first.id), disposition="voicemail", durationSeconds=30,
             calledAt=(now - timedelta(days=1)).isoformat())
    c = _log(client, tenant.user, prospectId=str(second.id), disposition="busy", direction="inbound")
    _log(client, other_tenant.user, prospectId=str(_prospect(other_tenant).id))

    def ids(**params):
        response = client.get(API, params=params, headers=tenant.viewer.headers)
        assert response.status_code == 200, response.text
        return [x["id"] for x in response.json()["data"]]

    assert ids() == [c["id"], b["id"], a["id"]]
    assert ids(prospectId=str(first.id)) == [b["id"], a["id"]]
    assert ids(userId=str(tenant.admin.id)) == [b["id"]]
    assert ids(dealId=str(deal.id)) == [a["id"]]
    assert ids(disposition="answered,busy") == [c["id"], a["id"]]
    assert ids(direction="inbound") == [c["id"]]
    assert ids(calledAfter=(now - timedelta(days=1, hours=12)).isoformat(),
               calledBefore=(now - timedelta(hours=12)).isoformat()) == [b["id"]]
    assert ids(sort="-durationSeconds") == [a["id"], b["id"], c["id"]]
    response = client.get(API, params={"disposition": "hung_up"}, headers=tenant.user.headers)
    assert response.status_code == 422 and response.json()["error"]["details"]["field"] == "disposition.0"
    response = client.get(API, params={"calledAfter": now.isoformat(), "calledBefore": now.isoformat()},
                          headers=tenant.user.headers)
    assert response.status_code == 422 and response.json()["error"]["details"]["field"] == "calledAfter"


def test_auth_roles_and_scopes(client, tenant, key_headers):
    prospect = _prospect(tenant)
    call = _log(client, tenant.user, prospectId=str(prospect.id))
    assert client.post(API, json={"prospectId": str(prospect.id), "disposition": "busy"}).status_code == 401
    assert client.get(API).status_code == 401
    viewer = client.post(API, json={"prospectId": str(prospect.id), "disposition": "busy"},
                         headers=tenant.viewer.headers)
    assert viewer.status_code == 403
    read_only = key_headers("activities:read")
    assert client.get(f"{API}/{call['id']}", headers=read_only).status_code == 200
    response = client.post(API, json={"prospectId": str(prospect.id), "disposition": "busy"}, headers=read_only)
    assert response.status_code == 403 and response.json()["error"]["code"] == "INSUFFICIENT_SCOPE"
    assert client.post(API, json={"prospectId": str(prospect.id), "disposition": "busy"},
                       headers=key_headers("activities:write")).status_code == 201


def test_other_tenants_calls_are_invisible(client, tenant, other_tenant):
    prospect = _prospect(tenant)
    call = _log(client, tenant.user, prospectId=str(prospect.id), notes="Secret notes")
    outsider = other_tenant.admin.headers
    response = client.get(f"{API}/{call['id']}", headers=outsider)
    assert response.status_code == 404 and "Secret notes" not in response.text
    assert call["id"] not in {c["id"] for c in client.get(API, params={"limit": 500}, headers=outsider).json()["data"]}
    assert client.get(f"{API}/{uuid.uuid4()}", headers=tenant.user.headers).status_code == 404

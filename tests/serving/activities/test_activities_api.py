"""Activities through the API: manual logging, filters, timelines, auth and tenancy."""

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

API = "/api/v1/activities"


def _prospect(tenant, **values):
    return tenant.add(Prospect, email=unique_email(), **values)


def _log(client, member, **payload) -> dict:
    payload.setdefault("type", "note_added")
    response = client.post(API, json=payload, headers=member.headers)
    assert response.status_code == 201, response.text
    return response.json()


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_log_a_note_on_a_prospect_infers_the_account(client, tenant, owner_session):
    account = tenant.add(Account, name="Acme")
    prospect = _prospect(tenant, account_id=account.id)
    before = datetime.now(UTC)
    body = _log(client, tenant.user, type="note_added", subject="Met at the conference",
                description="Interested in the API", prospectId=str(prospect.id), metadata={"source": "event"})
    assert body["type"] == "note_added"
    assert body["prospectId"] == str(prospect.id) and body["accountId"] == str(account.id)
    assert body["userId"] == str(tenant.user.id)
    assert body["metadata"] == {"source": "event"}
    assert before - timedelta(seconds=5) <= _parse(body["occurredAt"]) <= datetime.now(UTC) + timedelta(seconds=5)
    fetched = client.get(f"{API}/{body['id']}", headers=tenant.viewer.headers)
    assert fetched.status_code == 200 and fetched.json() == body
    audit = owner_session.scalars(select(AuditLog).where(AuditLog.entity_id == body["id"])).all()
    assert [(a.action, a.entity_type) for a in audit] == [("create", "activity")]


def test_log_on_a_deal_takes_its_account_and_keeps_the_time_sent(client, tenant):
    account = tenant.add(Account, name="Acme")
    deal = tenant.add(Deal, name="Big one", account_id=account.id, forecast_category="pipeline")
    body = _log(client, tenant.user, type="meeting_completed", dealId=str(deal.id),
                occurredAt="2025-05-01T09:30:00")  # no zone: read as UTC
    assert body["accountId"] == str(account.id) and body["dealId"] == str(deal.id) and body["prospectId"] is None
    assert _parse(body["occurredAt"]) == datetime(2025, 5, 1, 9, 30, tzinfo=UTC)
    explicit = _log(client, tenant.user, type="linkedin_interaction", accountId=str(account.id),
                    occurredAt="2025-05-01T09:30:00+02:00")
    assert _parse(explicit["occurredAt"]) == datetime(2025, 5, 1, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize(("payload", "field"), [
    ({"type": "status_change"}, "type"),
    ({"type": "email_opened"}, "type"),
    ({"type": "dance"}, "type"),
    ({"occurredAt": "yesterday"}, "occurredAt"),
    ({"prospectId": "not-a-uuid"}, "prospectId"),
    ({"subject": "x" * 501}, "subject"),
    ({"colour": "red"}, "colour"),
])
def test_create_validation_errors_name_the_field(client, shared_tenant, payload, field):
    account = shared_tenant.add(Account, name="Acme")
    body = {"type": "note_added", "accountId": str(account.id), **payload}
    response = client.post(API, json=body, headers=shared_tenant.user.headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["details"]["field"] == field


def test_system_types_are_explained(client, shared_tenant):
    response = client.post(API, json={"type": "status_change", "prospectId": str(uuid.uuid4())},
                           headers=shared_tenant.user.headers)
    assert "recorded by the system" in response.json()["error"]["message"]


def test_an_activity_needs_something_to_belong_to(client, shared_tenant):
    response = client.post(API, json={"type": "note_added", "subject": "orphan"}, headers=shared_tenant.user.headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["details"]["field"] == "prospectId"
    assert "at least one of prospectId, accountId or dealId" in error["message"]


def test_references_to_another_tenant_are_refused(client, tenant, other_tenant):
    foreign_prospect = _prospect(other_tenant)
    foreign_account = other_tenant.add(Account, name="Foreign")
    foreign_deal = other_tenant.add(Deal, name="Foreign", forecast_category="pipeline")
    for field, value in (("prospectId", foreign_prospect.id), ("accountId", foreign_account.id),
                         ("dealId", foreign_deal.id)):
        response = client.post(API, json={"type": "note_added", field: str(value)}, headers=tenant.user.headers)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["details"]["field"] == field


def test_idempotent_create_replays_the_first_response(client, tenant, owner_session):
    prospect = _prospect(tenant)
    headers = {**tenant.user.headers, "Idempotency-Key": uuid.uuid4().hex}
    payload = {"type": "note_added", "prospectId": str(prospect.id), "subject": "once"}
    first = client.post(API, json=payload, headers=headers)
    second = client.post(API, json=payload, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true" and second.json() == first.json()
    assert len(owner_session.scalars(select(Activity).where(Activity.prospect_id == prospect.id)).all()) == 1


def test_list_filters(client, tenant, other_tenant):
    account = tenant.add(Account, name="Acme")
    prospect = _prospect(tenant, account_id=account.id)
    loner = _prospect(tenant)
    deal = tenant.add(Deal, name="Deal", account_id=account.id, forecast_category="pipeline")
    now = datetime.now(UTC)
    note = _log(client, tenant.user, type="note_added", subject="pricing question", prospectId=str(prospect.id),
                occurredAt=(now - timedelta(days=3)).isoformat())
    meeting = _log(client, tenant.admin, type="meeting_scheduled", dealId=str(deal.id),
                   occurredAt=(now - timedelta(days=2)).isoformat())
    email = _log(client, tenant.user, type="email_sent", prospectId=str(loner.id), description="Pricing follow-up",
                 occurredAt=(now - timedelta(days=1)).isoformat())
    # recorded with neither account nor deal id, yet still the account's through its prospect
    linked_later = tenant.add(Activity, type=ActivityType.call_made, prospect_id=prospect.id, occurred_at=now)
    _log(client, other_tenant.user, type="note_added", accountId=str(other_tenant.add(Account, name="X").id))

    def ids(**params):
        response = client.get(API, params=params, headers=tenant.viewer.headers)
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()["data"]]

    assert ids() == [str(linked_later.id), email["id"], meeting["id"], note["id"]]
    assert ids(sort="occurredAt") == [note["id"], meeting["id"], email["id"], str(linked_later.id)]
    assert ids(type="note_added,email_sent") == [email["id"], note["id"]]
    assert ids(type=["meeting_scheduled"]) == [meeting["id"]]
    assert ids(prospectId=str(prospect.id)) == [str(linked_later.id), note["id"]]
    assert ids(accountId=str(account.id)) == [str(linked_later.id), meeting["id"], note["id"]]
    assert ids(dealId=str(deal.id)) == [meeting["id"]]
    assert ids(userId=str(tenant.admin.id)) == [meeting["id"]]
    assert ids(occurredAfter=(now - timedelta(days=2, hours=1)).isoformat(),
               occurredBefore=(now - timedelta(hours=12)).isoformat()) == [email["id"], meeting["id"]]
    assert ids(q="pricing") == [email["id"], note["id"]]
    page = client.get(API, params={"limit": 3}, headers=tenant.user.headers).json()
    assert page["pagination"] == {"page": 1, "limit": 3, "total": 4, "pages": 2}


@pytest.mark.parametrize(("params", "field"), [
    ({"type": "dance"}, "type.0"),
    ({"occurredAfter": "2025-02-01T00:00:00Z", "occurredBefore": "2025-01-01T00:00:00Z"}, "occurredAfter"),
    ({"prospectId": "nope"}, "prospectId"),
    ({"sort": "secret"}, "sort"),
])
def test_list_validation_errors(client, shared_tenant, params, field):
    response = client.get(API, params=params, headers=shared_tenant.user.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["field"] == field


def test_prospect_timeline_still_served_by_the_prospects_router(client, tenant):
    prospect = _prospect(tenant)
    note = _log(client, tenant.user, prospectId=str(prospect.id))
    timeline = client.get(f"/api/v1/prospects/{prospect.id}/activities", headers=tenant.viewer.headers)
    assert timeline.status_code == 200 and [a["id"] for a in timeline.json()["data"]] == [note["id"]]


@pytest.mark.parametrize(("method", "path"), [
    ("get", API), ("post", API), ("get", API + "/{id}"),
    ("get", "/api/v1/calls"), ("post", "/api/v1/calls"), ("get", "/api/v1/calls/{id}"),
])
def test_every_endpoint_needs_authentication(client, method, path):
    response = client.request(method, path.format(id=uuid.uuid4()), json={"type": "note_added"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_auth_roles_and_scopes(client, tenant, key_headers):
    prospect = _prospect(tenant)
    note = _log(client, tenant.user, prospectId=str(prospect.id))
    assert client.get(API).status_code == 401
    assert client.get(f"{API}/{note['id']}").status_code == 401
    viewer = client.post(API, json={"type": "note_added", "prospectId": str(prospect.id)},
                         headers=tenant.viewer.headers)
    assert viewer.status_code == 403 and viewer.json()["error"]["code"] == "INSUFFICIENT_ROLE"
    read_only = key_headers("activities:read")
    assert client.get(f"{API}/{note['id']}", headers=read_only).status_code == 200
    response = client.post(API, json={"type": "note_added", "prospectId": str(prospect.id)}, headers=read_only)
    assert response.status_code == 403 and response.json()["error"]["code"] == "INSUFFICIENT_SCOPE"
    assert client.get(API, headers=key_headers("deals:read")).json()["error"]["code"] == "INSUFFICIENT_SCOPE"
    writer = key_headers("activities:write")
    assert client.post(API, json={"type": "note_added", "prospectId": str(prospect.id)},
                       headers=writer).status_code == 201


def test_other_tenants_activities_are_invisible(client, tenant, other_tenant):
    prospect = _prospect(tenant)
    note = _log(client, tenant.user, prospectId=str(prospect.id), subject="Secret note")
    outsider = other_tenant.admin.headers
    response = client.get(f"{API}/{note['id']}", headers=outsider)
    assert response.status_code == 404 and "Secret note" not in response.text
    listed = client.get(API, params={"limit": 500}, headers=outsider).json()["data"]
    assert note["id"] not in {a["id"] for a in listed}
    assert client.get(API, params={"prospectId": str(prospect.id)}, headers=outsider).json()["data"] == []
    assert client.get(f"{API}/{uuid.uuid4()}", headers=tenant.user.headers).status_code == 404

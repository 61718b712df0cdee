"""/notifications: notifications made by real domain events (API → outbox → subscriber), listed, read, archived,
snoozed and collapsed; preferences validated; push subscriptions; and every route limited to the caller's own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from serving.core import outbox
from serving.core.db import session_factory, tenant_session
from serving.notifications.jobs import maintain

API = "/api/v1/notifications"


def won_deal(client, tenant, *, name: str = "Acme renewal") -> dict:
    """The user's deal, moved to closed-won by the admin: the user (its owner) is notified, the admin (the actor)
    is not."""
    deal = client.post("/api/v1/deals", json={"name": name, "amount": 1000}, headers=tenant.user.headers).json()
    moved = client.put(f"/api/v1/deals/{deal['id']}", json={"stage": "closed_won"}, headers=tenant.admin.headers)
    assert moved.status_code == 200, moved.text
    tenant.deliver_events()
    return deal


def listed(client, member, **params) -> dict:
    response = client.get(API, params=params, headers=member.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_won_deal_notifies_its_owner_not_the_admin_who_moved_it(client, tenant):
    deal = won_deal(client, tenant)
    page = listed(client, tenant.user)
    won = [n for n in page["data"] if n["type"] == "deal.won"]
    assert len(won) == 1
    assert won[0]["title"] == "Deal won: Acme renewal"
    assert won[0]["priority"] == "high" and won[0]["actionUrl"] == f"/deals/{deal['id']}"
    assert won[0]["data"]["dealId"] == deal["id"] and won[0]["readAt"] is None
    assert page["unreadCount"] == len(page["data"]) and set(page["pagination"]) == {"page", "limit", "total",
                                                                                   "pages"}
    assert [n for n in listed(client, tenant.admin)["data"] if n["type"] == "deal.won"] == []


def test_filters_read_unread_and_mark_all(client, tenant):
    won_deal(client, tenant)
    won_deal(client, tenant, name="Beta")
    page = listed(client, tenant.user)
    total = page["unreadCount"]
    assert total >= 2
    first = page["data"][0]["id"]
    read = client.put(f"{API}/{first}/read", headers=tenant.user.headers)
    assert read.status_code == 200 and read.json()["readAt"] is not None
    assert listed(client, tenant.user)["unreadCount"] == total - 1
    assert [n["id"] for n in listed(client, tenant.user, unread="false")["data"]] == [first]
    assert first not in [n["id"] for n in listed(client, tenant.user, unread="true")["data"]]
    assert client.put(f"{API}/{first}/unread", headers=tenant.user.headers).json()["readAt"] is None
    assert {n["priority"] for n in listed(client, tenant.user, priority="high")["data"]} == {"high"}
    assert listed(client, tenant.user, priority="low,urgent")["data"] == []
    assert {n["type"] for n in listed(client, tenant.user, type="deal.won")["data"]} == {"deal.won"}
    bad = client.get(API, params={"priority": "critical"}, headers=tenant.user.headers)
    assert bad.status_code == 422 and bad.json()["success"] is False
    marked = client.post(f"{API}/mark-all-read", headers=tenant.user.headers).json()
    assert marked["updated"] == total and marked["unreadCount"] == 0
    assert client.get(f"{API}/unread-count", headers=tenant.user.headers).json() == {"unreadCount": 0}


def test_archive_hides_and_cleanup_functions_run_on_a_pinned_clock(client, tenant, settings, owner_session):
    won_deal(client, tenant)
    note = listed(client, tenant.user)["data"][0]
    assert client.delete(f"{API}/{note['id']}", headers=tenant.user.headers).status_code == 204
    assert note["id"] not in [n["id"] for n in listed(client, tenant.user)["data"]]
    assert client.get(f"{API}/{note['id']}", headers=tenant.user.headers).status_code == 404
    # archived 91 days before "now": the nightly cleanup deletes it; read 31 days ago: auto-archived
    won_deal(client, tenant, name="Old read")
    old = listed(client, tenant.user)["data"][0]
    now = datetime.now(UTC) + timedelta(days=91)
    owner_session.execute(text("update app.notifications set read_at = :t where id = :id"),
                          {"t": now - timedelta(days=31), "id": old["id"]})
    owner_session.commit()
    done = maintain(factory=session_factory(settings.api_database_url), now=now, nightly=True)
    assert done["archived"] >= 1 and done["deleted"] >= 1
    rows = dict(owner_session.execute(text("select id::text, archived_at is not null from app.notifications"
                                           " where id = any(:ids)"),
                                      {"ids": [uuid.UUID(note["id"]), uuid.UUID(old["id"])]}).all())
    assert rows == {old["id"]: True}


def test_snooze_hides_until_then_and_unsnooze_brings_back(client, tenant, settings):
    won_deal(client, tenant)
    note = listed(client, tenant.user)["data"][0]
    before = listed(client, tenant.user)["unreadCount"]
    past = client.post(f"{API}/{note['id']}/snooze", json={"until": "2020-01-01T00:00:00Z"},
                       headers=tenant.user.headers)
    assert past.status_code == 422 and past.json()["error"]["details"]["field"] == "until"
    naive = client.post(f"{API}/{note['id']}/snooze", json={"until": "2099-01-01T00:00:00"},
                        headers=tenant.user.headers)
    assert naive.status_code == 422
    until = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    snoozed = client.post(f"{API}/{note['id']}/snooze", json={"until": until}, headers=tenant.user.headers)
    assert snoozed.status_code == 200 and snoozed.json()["snoozedUntil"] is not None
    assert note["id"] not in [n["id"] for n in listed(client, tenant.user)["data"]]
    assert listed(client, tenant.user)["unreadCount"] == before - 1
    assert [n["id"] for n in listed(client, tenant.user, snoozed="true")["data"]] == [note["id"]]
    # the unsnooze function at a pinned "now" past the snooze: back in the list
    maintain(factory=session_factory(settings.api_database_url), now=datetime.now(UTC) + timedelta(hours=3),
             nightly=False)
    assert note["id"] in [n["id"] for n in listed(client, tenant.user)["data"]]
    # and by hand
    client.post(f"{API}/{note['id']}/snooze", json={"until": until}, headers=tenant.user.headers)
    back = client.post(f"{API}/{note['id']}/unsnooze", headers=tenant.user.headers)
    assert back.status_code == 200 and back.json()["snoozedUntil"] is None
    assert listed(client, tenant.user)["unreadCount"] == before


def _publish(tenant, type_: str, payload: dict, occurred_at: datetime) -> None:
    with tenant_session(session_factory(tenant.settings.api_database_url), tenant.organization_id) as session:
        outbox.publish(session, organization_id=tenant.organization_id, type=type_, payload=payload,
                       occurred_at=occurred_at)
    tenant.deliver_events()


def test_repeats_collapse_into_one_notification_within_the_window(client, tenant):
    email_id = str(uuid.uuid4())
    opened = {"emailId": email_id, "userId": str(tenant.user.id), "subject": "Quick question", "first": False}
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    for minutes in (0, 10, 50):
        _publish(tenant, "email.opened", opened, start + timedelta(minutes=minutes))
    rows = [n for n in listed(client, tenant.user, type="email.opened")["data"]]
    assert len(rows) == 1
    assert rows[0]["count"] == 3 and rows[0]["title"] == "“Quick question” was opened"
    # more than an hour after the last repeat: a new notification
    _publish(tenant, "email.opened", opened, start + timedelta(minutes=50 + 61))
    assert sorted(n["count"] for n in listed(client, tenant.user, type="email.opened")["data"]) == [1, 3]
    # once read, a repeat starts a new one rather than reviving it
    newest = listed(client, tenant.user, type="email.opened")["data"][0]
    client.put(f"{API}/{newest['id']}/read", headers=tenant.user.headers)
    _publish(tenant, "email.opened", opened, start + timedelta(minutes=50 + 62))
    assert sorted(n["count"] for n in listed(client, tenant.user, type="email.opened")["data"]) == [1, 1, 3]


def test_bounces_notify_the_sender_and_the_admins(client, tenant):
    bounced = {"emailId": str(uuid.uuid4()), "userId": str(tenant.user.id), "toEmail": "gone@example.com",
               "detail": {"bounceType": "hard"}}
    _publish(tenant, "email.bounced", bounced, datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    for member in (tenant.user, tenant.admin):
        notes = listed(client, member, type="email.bounced")["data"]
        assert [(n["title"], n["body"]) for n in notes] == [("An e-mail to gone@example.com bounced",
                                                            "bounceType: hard")]
    assert listed(client, tenant.viewer, type="email.bounced")["data"] == []


@pytest.mark.parametrize(("body", "field"), [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"channels": {"email": {"quietHoursStart": "25:00"}}}, "channels.email.quietHoursStart"),
    ({"channels": {"email": {"quietHoursEnd": "8am"}}}, "channels.email.quietHoursEnd"),
    ({"channels": {"email": {"frequency": "monthly"}}}, "channels.email.frequency"),
    ({"eventOverrides": {"deal.exploded": {"email": False}}}, "eventOverrides"),
    ({"eventOverrides": {"deal.won": {"fax": True}}}, "eventOverrides.deal.won.fax"),
    ({"channels": {"pager": {"enabled": True}}}, "channels.pager"),
])
def test_preferences_are_validated(client, tenant, body, field):
    response = client.put(f"{API}/preferences", json=body, headers=tenant.user.headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert field in str(error["details"])


def test_preferences_default_then_saved_and_read_back(client, tenant, owner_session):
    default = client.get(f"{API}/preferences", headers=tenant.user.headers).json()
    assert default["channels"]["email"] == {"enabled": True, "frequency": "daily", "quietHoursStart": "22:00",
                                            "quietHoursEnd": "08:00"}
    assert "deal.won" in default["eventTypes"] and "ticket.assigned" in default["eventTypes"]
    saved = client.put(f"{API}/preferences", headers=tenant.user.headers, json={
        "channels": {"inApp": {"sound": True}, "email": {"frequency": "instant", "quietHoursStart": None,
                                                         "quietHoursEnd": None}, "push": {"enabled": True}},
        "eventOverrides": {"email.opened": {"inApp": False}}, "timezone": "Europe/Paris",
        "urgentOverridesQuietHours": True,
    })
    assert saved.status_code == 200, saved.text
    again = client.get(f"{API}/preferences", headers=tenant.user.headers).json()
    assert again["channels"]["inApp"] == {"enabled": True, "sound": True, "desktop": False}
    assert again["channels"]["email"]["frequency"] == "instant" and again["channels"]["push"] == {"enabled": True}
    assert again["timezone"] == "Europe/Paris" and again["urgentOverridesQuietHours"] is True
    # the override silences in-app opens: no listed notification; repeats still collapse (one e-mail, not two)
    opened = {"emailId": str(uuid.uuid4()), "userId": str(tenant.user.id)}
    _publish(tenant, "email.opened", opened, datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    _publish(tenant, "email.opened", opened, datetime(2026, 3, 2, 9, 5, tzinfo=UTC))
    assert listed(client, tenant.user, type="email.opened")["data"] == []
    hidden = owner_session.execute(text(
        "select n.count, array_agg(d.channel order by d.channel) from app.notifications n"
        " left join app.notification_deliveries d on d.notification_id = n.id"
        " where n.user_id = :u and n.type = 'email.opened' group by n.id"),
        {"u": tenant.user.id}).all()
    assert hidden == [(2, ["email", "push"])]  # one delivery per channel for both opens
    assert client.get(f"{API}/preferences", headers=tenant.admin.headers).json()["timezone"] == "UTC"


def test_push_subscribe_is_idempotent_and_unsubscribe(client, tenant):
    body = {"endpoint": "https://push.example.com/send/abc", "keys": {"p256dh": "B" * 87, "auth": "a" * 22}}
    first = client.post(f"{API}/push/subscribe", json=body, headers=tenant.user.headers)
    again = client.post(f"{API}/push/subscribe", json={**body, "device": "laptop"}, headers=tenant.user.headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] and again.json()["device"] == "laptop"
    bad = client.post(f"{API}/push/subscribe", json={**body, "keys": {"p256dh": "not base64!", "auth": "x"}},
                      headers=tenant.user.headers)
    assert bad.status_code == 422
    gone = {"endpoint": body["endpoint"]}
    assert client.post(f"{API}/push/unsubscribe", json=gone, headers=tenant.user.headers).status_code == 204
    assert client.post(f"{API}/push/unsubscribe", json=gone, headers=tenant.user.headers).status_code == 404


def test_each_user_sees_only_their_own(client, tenant, other_tenant):
    won_deal(client, tenant)
    mine = listed(client, tenant.user)["data"][0]["id"]
    # another organization, and another user of the same organization: 404 everywhere, nothing listed
    for member in (other_tenant.user, other_tenant.admin, tenant.viewer):
        assert mine not in [n["id"] for n in listed(client, member)["data"]]
        assert client.get(f"{API}/{mine}", headers=member.headers).status_code == 404
        for call in (client.put(f"{API}/{mine}/read", headers=member.headers),
                     client.put(f"{API}/{mine}/unread", headers=member.headers),
                     client.delete(f"{API}/{mine}", headers=member.headers),
                     client.post(f"{API}/{mine}/snooze", json={"until": "2099-01-01T00:00:00Z"},
                                 headers=member.headers),
                     client.post(f"{API}/{mine}/unsnooze", headers=member.headers)):
            assert call.status_code == 404, call.text
            assert call.json()["error"]["code"] == "NOT_FOUND"
    client.post(f"{API}/mark-all-read", headers=other_tenant.user.headers)
    assert listed(client, tenant.user)["data"][0]["readAt"] is None
    body = {"endpoint": "https://push.example.com/send/shared", "keys": {"p256dh": "B" * 87, "auth": "a" * 22}}
    client.post(f"{API}/push/subscribe", json=body, headers=tenant.user.headers)
    assert client.post(f"{API}/push/unsubscribe", json={"endpoint": body["endpoint"]},
                       headers=other_tenant.user.headers).status_code == 404
    assert client.get(API, headers={}).status_code == 401


def test_every_channel_off_for_a_type_records_nothing(client, tenant, owner_session):
    off = {"inApp": False, "email": False, "push": False, "sms": False}
    saved = client.put(f"{API}/preferences", json={"eventOverrides": {"email.clicked": off}},
                       headers=tenant.user.headers)
    assert saved.status_code == 200
    _publish(tenant, "email.clicked", {"emailId": str(uuid.uuid4()), "userId": str(tenant.user.id)},
             datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    _publish(tenant, "email.replied", {"emailId": str(uuid.uuid4()), "userId": str(tenant.user.id)},
             datetime(2026, 3, 2, 9, 1, tzinfo=UTC))
    types = owner_session.execute(text("select type from app.notifications where user_id = :u"),
                                  {"u": tenant.user.id}).scalars().all()
    assert types == ["email.replied"]  # the other types keep the defaults

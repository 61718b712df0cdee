"""Single sends through the outbox: suppression, tracking, one-click unsubscribe, bounces, events."""

from __future__ import annotations

import email as email_lib
import re
from email import policy

from sqlalchemy import select, text

from serving.activities.models import Activity
from serving.core.db import set_tenant
from serving.emails import provider_events, tracking
from serving.emails.models import EmailBlacklist, EmailUnsubscribe


def _send(client, tenant, prospect, **extra):
    body = {
        "to": [{"email": prospect.email, "name": "Ada"}],
        "subject": "Hello {{firstName}}",
        "html": '<p>Hi {{firstName}}, <a href="https://example.com/pricing?a=1&amp;b=2">pricing</a></p>',
        "text": "Hi {{firstName}}",
        "prospectId": str(prospect.id),
        **extra,
    }
    return client.post("/api/v1/emails/send", json=body, headers=tenant.user.headers)


def _eml(settings, tenant, email_id):
    path = settings.outbox_dir / str(tenant.organization_id) / f"{email_id}.eml"
    return email_lib.message_from_bytes(path.read_bytes(), policy=policy.default) if path.exists() else None


def test_send_is_recorded_then_delivered_to_the_outbox(client, tenant, make_prospect, deliver, settings):
    prospect = make_prospect()
    response = _send(client, tenant, prospect)
    assert response.status_code == 202, response.text
    sent = response.json()
    assert sent["status"] == "queued"
    assert _eml(settings, tenant, sent["id"]) is None  # recorded, not delivered yet
    assert deliver(tenant)["sent"] == 1
    message = _eml(settings, tenant, sent["id"])
    assert message["Subject"] == "Hello Ada"
    assert message["Message-ID"] == f"<{sent['messageId']}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.match(r"<https?://.+/api/v1/unsubscribe/.+>", message["List-Unsubscribe"])
    html = message.get_body(("html",)).get_content()
    assert "/api/v1/t/o/" in html and "/api/v1/t/c/" in html and "example.com/pricing" not in html
    body = client.get(f"/api/v1/emails/{sent['id']}", headers=tenant.viewer.headers).json()
    assert body["status"] == "sent" and body["provider"] == "outbox" and body["sentAt"]
    assert deliver(tenant) == {}  # nothing twice
    outbox = client.get("/api/v1/emails/outbox", headers=tenant.user.headers).json()["data"]
    assert [e["emailId"] for e in outbox] == [sent["id"]]
    with tenant.session() as session:
        kinds = session.scalars(select(Activity.type).where(Activity.prospect_id == prospect.id)).all()
    assert "email_sent" in kinds


def test_open_and_click_tracking_with_signed_links(
    client, tenant, make_prospect, deliver, settings, owner_session
):
    prospect = make_prospect()
    sent = _send(client, tenant, prospect).json()
    deliver(tenant)
    html = _eml(settings, tenant, sent["id"]).get_body(("html",)).get_content()
    pixel = re.search(r'src="[^"]*(/api/v1/t/o/[^"]+)"', html).group(1)
    click = re.search(r'href="[^"]*(/api/v1/t/c/[^"]+)"', html).group(1)
    assert client.get(pixel).headers["content-type"] == "image/gif"
    client.get(pixel)
    redirect = client.get(click, follow_redirects=False)
    assert redirect.status_code == 302
    assert redirect.headers["location"] == "https://example.com/pricing?a=1&b=2"
    body = client.get(f"/api/v1/emails/{sent['id']}", headers=tenant.user.headers).json()
    assert (body["opened"], body["openCount"], body["clicked"], body["clickCount"]) == (True, 2, True, 1)
    events = client.get(f"/api/v1/emails/{sent['id']}/events", headers=tenant.user.headers).json()["data"]
    assert [e["event"] for e in events] == ["processed", "open", "open", "click"]
    raw = owner_session.execute(
        text("select event, source from raw.email_events where email_id = :id order by id"),
        {"id": sent["id"]},
    ).all()
    assert raw == [("processed", "outbox"), ("open", "tracking"), ("open", "tracking"), ("click", "tracking")]


def test_tampered_or_unsigned_links_are_refused(client, tenant, make_prospect, deliver, settings):
    prospect = make_prospect()
    sent = _send(client, tenant, prospect).json()
    deliver(tenant)
    html = _eml(settings, tenant, sent["id"]).get_body(("html",)).get_content()
    click = re.search(r'href="[^"]*/api/v1/t/c/([^"]+)"', html).group(1)
    body, mac = click.split(".")
    forged = tracking.sign(
        {"k": "c", "o": str(tenant.organization_id), "e": sent["id"], "u": "https://evil.test"},
        b"not-the-secret",
    )
    for token in (forged, body + "." + mac[:-2] + "AA", body, "garbage"):
        response = client.get(f"/api/v1/t/c/{token}", follow_redirects=False)
        assert response.status_code == 404, token
        assert "location" not in response.headers
        assert response.json()["error"]["code"] == "INVALID_LINK"
    assert client.get("/api/v1/t/o/garbage.gif").status_code == 404
    open_token = tracking.sign(
        {"k": "o", "o": str(tenant.organization_id), "e": sent["id"]}, settings.tracking_secret
    )
    assert client.get(f"/api/v1/t/c/{open_token}", follow_redirects=False).status_code == 404  # wrong kind


def test_one_click_unsubscribe_stops_every_later_send(client, tenant, make_prospect, deliver, settings):
    prospect = make_prospect()
    first = _send(client, tenant, prospect).json()
    assert deliver(tenant)["sent"] == 1
    header = _eml(settings, tenant, first["id"])["List-Unsubscribe"]
    message_url = re.search(r"(/api/v1/unsubscribe/[^>]+)>", header).group(1)
    assert "Unsubscribe" in client.get(message_url).text  # landing page changes nothing
    assert (
        client.get(f"/api/v1/emails/suppressions/{prospect.email}", headers=tenant.user.headers).json()[
            "suppressed"
        ]
        is False
    )
    response = client.post(
        message_url,
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert (
        client.get(f"/api/v1/emails/suppressions/{prospect.email}", headers=tenant.user.headers).json()[
            "reason"
        ]
        == "unsubscribed"
    )
    refused = _send(client, tenant, prospect)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "RECIPIENT_SUPPRESSED"
    with tenant.session() as session:
        row = session.scalars(select(EmailUnsubscribe).where(EmailUnsubscribe.email == prospect.email)).one()
        assert row.source == "one_click"


def test_suppression_is_rechecked_at_delivery_time(client, tenant, make_prospect, deliver, settings):
    prospect = make_prospect()
    queued = _send(client, tenant, prospect).json()
    client.post("/api/v1/emails/suppressions", json={"email": prospect.email}, headers=tenant.user.headers)
    assert deliver(tenant) == {"suppressed": 1}
    body = client.get(f"/api/v1/emails/{queued['id']}", headers=tenant.user.headers).json()
    assert body["status"] == "suppressed"
    assert _eml(settings, tenant, queued["id"]) is None


def test_hard_bounce_and_repeated_soft_bounces_suppress(
    client, tenant, make_prospect, deliver, settings, app
):
    hard, soft = make_prospect(), make_prospect()
    hard_email = _send(client, tenant, hard).json()
    soft_emails = [_send(client, tenant, soft).json() for _ in range(3)]
    deliver(tenant)
    factory = app.state.session_factory
    with factory() as session, session.begin():
        applied = provider_events.apply_email_event(
            db_session=session,
            settings=settings,
            event={
                "event": "bounce",
                "type": "bounce",
                "email": hard.email,
                "timestamp": 1700000000,
                "sg_event_id": f"sg-{hard_email['id']}",
                "reason": "550 5.1.1 user unknown",
                "status": "5.1.1",
                "revorc_email_id": hard_email["id"],
                "revorc_organization_id": str(tenant.organization_id),
            },
        )
        assert applied.status == "bounced"
    for i, sent in enumerate(soft_emails):
        with factory() as session, session.begin():
            provider_events.apply_email_event(
                db_session=session,
                settings=settings,
                event={
                    "event": "bounce",
                    "type": "blocked",
                    "email": soft.email,
                    "timestamp": 1700000000 + i,
                    "sg_event_id": f"sg-soft-{sent['id']}",
                    "revorc_email_id": sent["id"],
                    "revorc_organization_id": str(tenant.organization_id),
                },
            )
        with factory() as session:
            set_tenant(session, tenant.organization_id)
            listed = session.scalars(
                select(EmailBlacklist.reason).where(EmailBlacklist.email == soft.email)
            ).all()
        assert listed == ([] if i < 2 else ["soft_bounce_limit"])
    with factory() as session:
        set_tenant(session, tenant.organization_id)
        assert session.scalars(
            select(EmailBlacklist.reason).where(EmailBlacklist.email == hard.email)
        ).all() == ["hard_bounce"]
    # replaying the same provider event changes nothing
    with factory() as session, session.begin():
        provider_events.apply_email_event(
            db_session=session,
            settings=settings,
            event={
                "event": "bounce",
                "type": "bounce",
                "email": hard.email,
                "timestamp": 1700000000,
                "sg_event_id": f"sg-{hard_email['id']}",
                "revorc_email_id": hard_email["id"],
                "revorc_organization_id": str(tenant.organization_id),
            },
        )
    events = client.get(f"/api/v1/emails/{hard_email['id']}/events", headers=tenant.user.headers).json()[
        "data"
    ]
    assert [e["event"] for e in events].count("bounce") == 1
    assert _send(client, tenant, hard).json()["error"]["code"] == "RECIPIENT_SUPPRESSED"


def test_other_tenant_cannot_read_email(client, tenant, other_tenant, make_prospect):
    sent = _send(client, tenant, make_prospect()).json()
    assert client.get(f"/api/v1/emails/{sent['id']}", headers=other_tenant.admin.headers).status_code == 404
    assert (
        client.get(f"/api/v1/emails/{sent['id']}/events", headers=other_tenant.admin.headers).status_code
        == 404
    )


def test_list_by_status_and_cancel_only_a_queued_email(client, tenant, make_prospect, deliver):
    prospect = make_prospect()
    later = _send(client, tenant, prospect, sendAt="2099-01-01T00:00:00Z").json()
    now = _send(client, tenant, prospect).json()
    assert deliver(tenant) == {"sent": 1}

    def ids(status: str) -> set[str]:
        response = client.get("/api/v1/emails", headers=tenant.user.headers, params={"status": status})
        assert response.status_code == 200, response.text
        return {e["id"] for e in response.json()["data"]}

    assert ids("queued") == {later["id"]} and ids("sent") == {now["id"]}
    assert ids(" queued , sent ") == {later["id"], now["id"]}
    cancelled = client.post(f"/api/v1/emails/{later['id']}/cancel", headers=tenant.user.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert ids("cancelled") == {later["id"]}
    for email_id, status in ((later["id"], "cancelled"), (now["id"], "sent")):
        again = client.post(f"/api/v1/emails/{email_id}/cancel", headers=tenant.user.headers)
        assert again.status_code == 422 and again.json()["error"]["code"] == "INVALID_STATE"
        assert again.json()["error"]["details"] == {"status": status}
    # a status that does not exist is a mistake to report, not a filter that quietly matches nothing
    unknown = client.get("/api/v1/emails", headers=tenant.user.headers, params={"status": "sent,opened"})
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["error"]["details"]["value"] == "opened"
    assert "cancelled" in unknown.json()["error"]["details"]["allowed"]


def test_send_validation_and_idempotency(client, tenant, make_prospect):
    prospect = make_prospect()
    assert (
        client.post(
            "/api/v1/emails/send", json={"to": [{"email": prospect.email}]}, headers=tenant.user.headers
        ).status_code
        == 422
    )
    headers = {**tenant.user.headers, "Idempotency-Key": "send-once"}
    body = {"to": [{"email": prospect.email}], "subject": "Hi", "text": "Hello"}
    first = client.post("/api/v1/emails/send", json=body, headers=headers)
    again = client.post("/api/v1/emails/send", json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]

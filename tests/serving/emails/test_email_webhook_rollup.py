"""SendGrid Event Webhook → raw event stored and rolled up onto our `emails` row, in one request."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import text

from tests.serving.emails.test_email_sending import _send


def _event(kind: str, sent: dict, tenant, **extra) -> dict:
    return {
        "email": sent["to"][0]["email"] if isinstance(sent.get("to"), list) else "x@example.com",
        "timestamp": int(time.time()),
        "event": kind,
        "sg_event_id": f"evt-{uuid.uuid4().hex}",
        "sg_message_id": f"{uuid.uuid4().hex}.filter0001",
        "revorc_email_id": sent["id"],
        "revorc_organization_id": str(tenant.organization_id),
        **extra,
    }


def test_webhook_events_update_the_email_and_suppress_hard_bounces(client, tenant, make_prospect, deliver,
                                                                 owner_session):
    prospect = make_prospect()
    sent = _send(client, tenant, prospect).json()
    assert deliver(tenant)["sent"] == 1
    events = [_event("delivered", sent, tenant), _event("open", sent, tenant),
              _event("bounce", sent, tenant, type="bounce", reason="550 5.1.1 user unknown")]
    response = client.post("/api/v1/emails/webhook/sendgrid", json=events)
    assert response.status_code == 200, response.text

    stored = owner_session.execute(
        text("select event, organization_id from raw.email_events where email_id = :id and request_id is not null "
             "and source = 'email_events' order by event"),
        {"id": sent["id"]},
    ).all()
    assert [row.event for row in stored] == ["bounce", "delivered", "open"]
    assert {row.organization_id for row in stored} == {tenant.organization_id}

    email = client.get(f"/api/v1/emails/{sent['id']}", headers=tenant.user.headers).json()
    assert email["opened"] is True
    assert email["bounced"] is True
    blacklisted = owner_session.execute(
        text("select count(*) from app.email_blacklist where organization_id = :org and email = :email"),
        {"org": tenant.organization_id, "email": prospect.email},
    ).scalar()
    assert blacklisted == 1
    # A later send to the hard-bounced address is refused at queue time.
    again = _send(client, tenant, prospect)
    assert again.status_code in (409, 422), again.text


def test_an_event_timestamp_beyond_any_date_is_read_as_now(client, tenant, make_prospect, deliver):
    """`timestamp: 1e20` overflowed `datetime.fromtimestamp` (a 500 SendGrid would retry forever)."""
    sent = _send(client, tenant, make_prospect()).json()
    assert deliver(tenant)["sent"] == 1
    response = client.post("/api/v1/emails/webhook/sendgrid",
                           json=[_event("open", sent, tenant, timestamp=10**20)])
    assert response.status_code == 200, response.text
    assert client.get(f"/api/v1/emails/{sent['id']}", headers=tenant.user.headers).json()["opened"] is True

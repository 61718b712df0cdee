"""Provider routes have their own limit, and no limit loses a provider's event.

Opens fetched through Gmail's image proxy or a corporate NAT share one IP; SendGrid's webhooks and
Segment's libraries retry only some answers. Each test builds its own app (its own in-memory counters)
with tiny limits instead of sending thousands of requests.
"""

from __future__ import annotations

import base64
import time
import uuid

import pytest
import requests
from fastapi.testclient import TestClient
from segment.analytics import Client
from sqlalchemy import text

from serving.emails import tracking
from serving.main import create_app
from serving.prospects.models import Prospect
from tests.conftest import make_settings
from tests.factories import unique_email
from tests.live_server import live_server


@pytest.fixture
def prospect(tenant) -> Prospect:
    return tenant.add(Prospect, email=unique_email("prospect"), first_name="Ada")


@pytest.fixture
def limited_app(settings, state_dir):
    def build(**limits):
        return create_app(make_settings(settings.owner_database_url, state_dir, **limits))

    return build


def _sent_email(client, tenant, prospect) -> str:
    response = client.post("/api/v1/emails/send", headers=tenant.user.headers, json={
        "to": [{"email": prospect.email}], "subject": "Hi", "html": "<p>Hi</p>", "prospectId": str(prospect.id),
    })
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _links(settings, tenant, email_id: str, address: str) -> dict[str, str]:
    ids = {"organization_id": tenant.organization_id, "email_id": uuid.UUID(email_id)}
    secret = settings.tracking_secret
    return {
        "open": tracking.open_url("", secret, **ids),
        "click": tracking.click_url("", secret, url="https://example.com/pricing", **ids),
        "unsubscribe": tracking.unsubscribe_url("", secret, address=address, **ids),
    }


def _counts(owner_session, email_id: str) -> tuple[int, int]:
    owner_session.rollback()
    return owner_session.execute(text("select open_count, click_count from app.emails where id = :id"),
                                 {"id": email_id}).one()


def test_tracking_links_do_not_spend_the_general_limit(limited_app, tenant, prospect, owner_session):
    # the general limit (1000/hour per IP by default) stands at 3 here: a proxy fetching more opens than that
    # from one address lost every open past it
    app = limited_app(RATE_LIMIT_GENERAL="3/hour")
    client = TestClient(app)
    email_id = _sent_email(client, tenant, prospect)
    links = _links(app.state.settings, tenant, email_id, prospect.email)
    for _ in range(6):
        response = client.get(links["open"])
        assert response.status_code == 200 and response.headers["content-type"] == "image/gif"
    for _ in range(4):
        assert client.get(links["click"], follow_redirects=False).status_code == 302
    assert client.get(links["unsubscribe"]).status_code == 200
    assert _counts(owner_session, email_id) == (6, 4)


def test_signed_links_past_the_provider_limit_are_served_and_recorded(limited_app, tenant, prospect,
                                                                      owner_session):
    app = limited_app(RATE_LIMIT_PROVIDER="2/hour")
    client = TestClient(app)
    email_id = _sent_email(client, tenant, prospect)
    links = _links(app.state.settings, tenant, email_id, prospect.email)
    opens = [client.get(links["open"]) for _ in range(4)]
    assert [(r.status_code, r.content) for r in opens] == [(200, tracking.PIXEL_GIF)] * 4
    assert opens[-1].headers["x-ratelimit-remaining"] == "0"
    click = client.get(links["click"], follow_redirects=False)
    assert (click.status_code, click.headers["location"]) == (302, "https://example.com/pricing")
    assert _counts(owner_session, email_id) == (4, 1)
    unsubscribed = client.post(links["unsubscribe"])
    assert unsubscribed.status_code == 200
    assert owner_session.execute(text("select count(*) from app.email_unsubscribes where email = :a"),
                                 {"a": prospect.email.lower()}).scalar_one() == 1
    # forged or garbled links past the limit are turned away without touching the database
    forged = tracking.sign({"k": "o", "o": str(tenant.organization_id), "e": email_id}, b"not-the-secret")
    for path in (f"/api/v1/t/o/{forged}.gif", "/api/v1/t/c/garbage", "/api/v1/unsubscribe/garbage"):
        refused = client.get(path, follow_redirects=False)
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "RATE_LIMITED", path
        assert int(refused.headers["retry-after"]) >= 1
    assert _counts(owner_session, email_id) == (4, 1)


def _sendgrid_events(email_id: str, n: int) -> list[dict]:
    return [{"email": "a@example.com", "event": "delivered", "timestamp": int(time.time()),
             "sg_event_id": f"limit-{uuid.uuid4()}", "revorc_email_id": email_id} for _ in range(n)]


def test_sendgrid_webhooks_past_a_limit_answer_503_with_retry_after(limited_app, tenant, owner_session):
    app = limited_app(RATE_LIMIT_GENERAL="2/hour", RATE_LIMIT_PROVIDER="4/hour")
    client = TestClient(app)
    email_id = str(uuid.uuid4())
    answers = []
    for _ in range(4):
        response = client.post("/api/v1/emails/webhook/sendgrid", json=_sendgrid_events(email_id, 1))
        answers.append(response.status_code)
    # past the general limit nothing changes: webhooks spend the provider limit only
    assert answers == [200, 200, 200, 200]
    refused = [
        client.post("/api/v1/emails/webhook/sendgrid", json=_sendgrid_events(email_id, 1)),
        client.post("/api/v1/inbound/email", json={"from": "a@example.com", "inReplyTo": "<x@example.com>"}),
        client.post("/api/v1/inbound/sendgrid", data={"from": "a@example.com", "headers": "Subject: hi"}),
    ]
    for response in refused:
        # SendGrid retries a 5xx (Inbound Parse drops a 4xx for good) after Retry-After
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "RATE_LIMITED"
        assert 1 <= int(response.headers["retry-after"]) <= 3600
    owner_session.rollback()
    stored = owner_session.execute(text("select count(*) from raw.email_events where email_id = :id"),
                                   {"id": email_id}).scalar_one()
    assert stored == 4


def test_segment_client_retries_a_429_and_every_event_lands(limited_app, client, tenant, owner_session):
    key_response = client.post("/api/v1/api-keys", headers=tenant.admin.headers,
                               json={"name": "segment", "scopes": ["events:write"]})
    key = key_response.json()["key"]
    app = limited_app(RATE_LIMIT_GENERAL="2/hour", RATE_LIMIT_PROVIDER="2/second")
    with live_server(app) as host:
        basic = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
        # a fixed one-second window: keep going until one request meets the limit (a slow machine may cross
        # into the next window first)
        for _ in range(20):
            refused = requests.post(f"{host}/v1/track", json={"userId": "u", "event": "Burst"}, headers=basic,
                                    timeout=10)
            if refused.status_code != 200:
                break
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "RATE_LIMITED"
        assert int(refused.headers["retry-after"]) >= 1
        # Segment's own library: one message per request, so most of them meet the limit and are retried
        analytics = Client(key, host=host, upload_size=1, max_retries=3)
        try:
            sent = [analytics.track("u", "Retried", {"n": n})[1]["messageId"] for n in range(6)]
            analytics.flush()
        finally:
            analytics.join()
    owner_session.rollback()
    landed = owner_session.execute(text("select count(*) from raw.website_events where message_id = any(:ids)"),
                                   {"ids": sent}).scalar_one()
    assert landed == 6

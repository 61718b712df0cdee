"""Outside channels on a pinned clock (no sleeps): instant e-mail held through quiet hours in the user's time zone
(urgent goes through only when allowed), digests at their boundaries, Web Push through a fake push service that
decrypts the RFC 8291 payload and verifies the VAPID token, and SMS through a fake Twilio."""

from __future__ import annotations

import base64
import json
import os
import threading
import uuid
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import http_ece
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid
from sqlalchemy import text

from serving.core import outbox
from serving.core.db import session_factory, tenant_session
from serving.notifications import delivery
from serving.notifications.preferences import Preferences, digest_period_end, quiet_until
from tests.conftest import make_settings
from tests.serving.cadences.test_cadence_sms import ACCOUNT_SID, AUTH_TOKEN, FROM, FakeTwilio, twilio  # noqa: F401

API = "/api/v1/notifications"
NEW_YORK = ZoneInfo("America/New_York")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


# ---- the clock rules at their edges -----------------------------------------------------------------------------

def at(local: str, zone: ZoneInfo = NEW_YORK) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=zone).astimezone(UTC)


@pytest.mark.parametrize(("local", "until"), [
    ("2027-03-02 21:59", None),
    ("2027-03-02 22:00", "2027-03-03 08:00"),
    ("2027-03-03 03:30", "2027-03-03 08:00"),
    ("2027-03-03 07:59", "2027-03-03 08:00"),
    ("2027-03-03 08:00", None),
])
def test_quiet_hours_wrap_midnight_in_the_users_zone(local, until):
    window = (datetime.strptime("22:00", "%H:%M").time(), datetime.strptime("08:00", "%H:%M").time())
    assert quiet_until(at(local), window, NEW_YORK) == (at(until) if until else None)


def test_quiet_hours_within_a_day_and_urgent_override():
    lunch = Preferences(channels={"email": {"quietHoursStart": "12:00", "quietHoursEnd": "13:00"}},
                        timezone="America/New_York")
    assert lunch.quiet_until(at("2027-03-02 11:59"), priority="high") is None
    assert lunch.quiet_until(at("2027-03-02 12:00"), priority="urgent") == at("2027-03-02 13:00")
    allowed = Preferences(channels=lunch.channels, timezone="America/New_York", urgent_overrides_quiet_hours=True)
    assert allowed.quiet_until(at("2027-03-02 12:30"), priority="urgent") is None
    assert allowed.quiet_until(at("2027-03-02 12:30"), priority="high") == at("2027-03-02 13:00")


def test_digest_boundaries():
    paris = ZoneInfo("Europe/Paris")
    now = at("2027-03-03 07:59", paris)  # a Wednesday
    assert digest_period_end(now, "hourly", paris) == at("2027-03-03 07:00", paris)
    assert digest_period_end(now, "daily", paris) == at("2027-03-02 08:00", paris)
    assert digest_period_end(at("2027-03-03 08:00", paris), "daily", paris) == at("2027-03-03 08:00", paris)
    assert digest_period_end(now, "weekly", paris) == at("2027-03-01 08:00", paris)  # Monday
    assert digest_period_end(at("2027-03-01 07:00", paris), "weekly", paris) == at("2027-02-22 08:00", paris)


# ---- the worker's deliveries --------------------------------------------------------------------------------------

def prefer(client, member, **body) -> None:
    response = client.put(f"{API}/preferences", json=body, headers=member.headers)
    assert response.status_code == 200, response.text


def publish(tenant, type_: str, payload: dict) -> None:
    with tenant_session(session_factory(tenant.settings.api_database_url), tenant.organization_id) as session:
        outbox.publish(session, organization_id=tenant.organization_id, type=type_, payload=payload)
    tenant.deliver_events()


def run(settings, tenant, now: datetime) -> delivery.Outcome:
    return delivery.run(factory=session_factory(settings.api_database_url), settings=settings,
                        organization_id=tenant.organization_id, now=now)


def states(owner_session, tenant) -> list[tuple]:
    """The user's deliveries (admins get bounce and spam notifications too, with their own defaults)."""
    owner_session.rollback()
    return owner_session.execute(text(
        "select channel, status, scheduled_for, error from app.notification_deliveries"
        " where organization_id = :o and user_id = :u order by created_at, channel"),
        {"o": tenant.organization_id, "u": tenant.user.id}).all()


def mails(settings, tenant) -> list:
    folder = settings.outbox_dir / str(tenant.organization_id)
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))] if folder.is_dir() else []


def spam(tenant, member) -> dict:
    return {"emailId": str(uuid.uuid4()), "userId": str(member.id), "toEmail": "angry@example.com"}


def due_soon(member, title: str = "Call Dana") -> dict:
    return {"taskId": str(uuid.uuid4()), "assigneeId": str(member.id), "type": "call", "title": title,
            "dueAt": "2027-03-03T15:00:00Z"}


def test_instant_email_waits_for_the_end_of_quiet_hours(client, tenant, settings, owner_session):
    prefer(client, tenant.user, timezone="America/New_York",
           channels={"email": {"frequency": "instant", "quietHoursStart": "22:00", "quietHoursEnd": "08:00"}})
    publish(tenant, "task.due_soon", due_soon(tenant.user))
    night = at("2027-03-02 22:30")
    outcome = run(settings, tenant, night)
    assert outcome.deferred == 1 and outcome.sent == 0
    assert [(c, s, t) for c, s, t, _ in states(owner_session, tenant)] == [("email", "pending",
                                                                            at("2027-03-03 08:00"))]
    assert run(settings, tenant, at("2027-03-03 07:59")).sent == 0
    assert mails(settings, tenant) == []
    assert run(settings, tenant, at("2027-03-03 08:00")).sent == 1
    (mail,) = mails(settings, tenant)
    assert mail["To"] == tenant.user.email and mail["Subject"] == "Task due soon: Call Dana"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert [s for _, s, _, _ in states(owner_session, tenant)] == ["sent"]


@pytest.mark.parametrize("allowed", [True, False])
def test_urgent_goes_through_quiet_hours_only_when_allowed(client, tenant, settings, owner_session, allowed):
    prefer(client, tenant.user, timezone="America/New_York", urgentOverridesQuietHours=allowed,
           channels={"email": {"frequency": "instant"}})
    publish(tenant, "email.spam_reported", spam(tenant, tenant.user))
    outcome = run(settings, tenant, at("2027-03-02 23:00"))
    mine = [m for m in mails(settings, tenant) if m["To"] == tenant.user.email]
    if allowed:
        assert outcome.sent >= 1 and [m["Subject"] for m in mine] == ["angry@example.com reported an e-mail as spam"]
    else:
        assert mine == []


def test_daily_digest_at_eight_in_the_users_zone(client, tenant, settings, owner_session):
    paris = ZoneInfo("Europe/Paris")
    prefer(client, tenant.user, timezone="Europe/Paris",
           channels={"email": {"frequency": "daily", "quietHoursStart": None, "quietHoursEnd": None}})
    publish(tenant, "task.due_soon", due_soon(tenant.user, "First"))
    publish(tenant, "task.due_soon", due_soon(tenant.user, "Second"))
    assert [s for _, s, _, _ in states(owner_session, tenant)] == ["batched", "batched"]
    # batched during Tuesday (the arrangement pins when they were queued)
    owner_session.execute(text("update app.notification_deliveries set created_at = :t where organization_id = :o"),
                          {"t": at("2027-03-02 10:00", paris), "o": tenant.organization_id})
    owner_session.commit()
    assert run(settings, tenant, at("2027-03-03 07:59", paris)).digests == 0
    assert mails(settings, tenant) == []
    assert run(settings, tenant, at("2027-03-03 08:00", paris)).digests == 1
    (mail,) = mails(settings, tenant)
    assert mail["Subject"] == "Your daily notification digest: 2 update(s)"
    body = mail.get_body(("plain",)).get_content()
    assert "Task due soon: First" in body and "Task due soon: Second" in body
    assert [s for _, s, _, _ in states(owner_session, tenant)] == ["sent", "sent"]
    batches = owner_session.execute(text("select frequency, period_end, notification_count, status"
                                         " from app.notification_batches where organization_id = :o"),
                                    {"o": tenant.organization_id}).all()
    assert batches == [("daily", at("2027-03-03 08:00", paris), 2, "sent")]
    assert run(settings, tenant, at("2027-03-03 09:00", paris)).digests == 0  # nothing twice


def test_switching_to_instant_releases_what_waited_for_a_digest(client, tenant, settings, owner_session):
    prefer(client, tenant.user, channels={"email": {"frequency": "weekly"}})
    publish(tenant, "task.due_soon", due_soon(tenant.user))
    prefer(client, tenant.user, channels={"email": {"frequency": "instant", "quietHoursStart": None,
                                                    "quietHoursEnd": None}})
    run(settings, tenant, at("2027-03-03 12:00"))  # digests release it to pending
    assert run(settings, tenant, at("2027-03-03 12:01")).sent == 1
    assert len(mails(settings, tenant)) == 1


class FakePushService(BaseHTTPRequestHandler):
    """A push service's RFC 8030 §5 endpoint: POST the encrypted message; 201 Created, or the status queued."""

    received: list[dict] = []
    answers: list[int] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        FakePushService.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        status = FakePushService.answers.pop(0) if FakePushService.answers else 201
        self.send_response(status)
        self.send_header("Location", f"{self.path}/messages/{len(FakePushService.received)}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def push_service():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePushService)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakePushService.received, FakePushService.answers = [], []
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def vapid():
    key = Vapid()
    key.generate_keys()
    public = b64(key.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
    return key, public


def test_web_push_is_encrypted_for_the_browser_and_signed_with_vapid(client, tenant, database, state_dir,
                                                                     owner_session, push_service, vapid):
    key, public = vapid
    settings = make_settings(database, state_dir, VAPID_PRIVATE_KEY=key.private_pem().decode(),
                             VAPID_PUBLIC_KEY=public, VAPID_SUBJECT="mailto:ops@example.com")
    browser = ec.generate_private_key(ec.SECP256R1())
    auth = os.urandom(16)
    endpoint = f"{push_service}/push/v2/{uuid.uuid4().hex}"
    subscribed = client.post(f"{API}/push/subscribe", headers=tenant.user.headers, json={
        "endpoint": endpoint, "keys": {"p256dh": b64(browser.public_key().public_bytes(
            Encoding.X962, PublicFormat.UncompressedPoint)), "auth": b64(auth)}})
    assert subscribed.status_code == 201, subscribed.text
    prefer(client, tenant.user, channels={"email": {"enabled": False}, "push": {"enabled": True}})
    publish(tenant, "task.due_soon", due_soon(tenant.user, "Send the contract"))

    assert run(settings, tenant, at("2027-03-03 12:00")).sent == 1
    (request,) = FakePushService.received
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["content-encoding"] == "aes128gcm" and int(headers["ttl"]) == delivery.PUSH_TTL_SECONDS
    assert headers["urgency"] == "high"
    # RFC 8292: "vapid t=<JWT>, k=<public key>", the JWT signed ES256 for the push service's origin
    scheme, _, params = headers["authorization"].partition(" ")
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert scheme == "vapid" and fields["k"] == public
    claims = jwt.decode(fields["t"], key.public_key, algorithms=["ES256"], audience=push_service)
    assert claims["sub"] == "mailto:ops@example.com"
    # RFC 8291: only the subscription's private key and auth secret open it
    message = json.loads(http_ece.decrypt(request["body"], private_key=browser, auth_secret=auth,
                                          version="aes128gcm"))
    assert message["title"] == "Task due soon: Send the contract" and message["url"].startswith("/tasks/")

    # a 410 Gone (RFC 8030 §7.3): the subscription is deleted and the delivery skipped
    FakePushService.answers = [410]
    publish(tenant, "task.due_soon", due_soon(tenant.user, "Again"))
    assert run(settings, tenant, at("2027-03-03 12:05")).skipped == 1
    owner_session.rollback()
    assert owner_session.scalar(text("select count(*) from app.push_subscriptions where user_id = :u"),
                                {"u": tenant.user.id}) == 0


def test_push_failures_are_retried_with_backoff_then_failed(client, tenant, database, state_dir, owner_session,
                                                           push_service, vapid):
    key, public = vapid
    settings = make_settings(database, state_dir, VAPID_PRIVATE_KEY=key.private_pem().decode(),
                             VAPID_PUBLIC_KEY=public)
    browser = ec.generate_private_key(ec.SECP256R1())
    client.post(f"{API}/push/subscribe", headers=tenant.user.headers, json={
        "endpoint": f"{push_service}/p/1", "keys": {"p256dh": b64(browser.public_key().public_bytes(
            Encoding.X962, PublicFormat.UncompressedPoint)), "auth": b64(os.urandom(16))}})
    prefer(client, tenant.user, channels={"email": {"enabled": False}, "push": {"enabled": True}})
    publish(tenant, "task.due_soon", due_soon(tenant.user))
    FakePushService.answers = [503] * delivery.MAX_ATTEMPTS
    now = at("2027-03-03 12:00")
    for attempt in range(1, delivery.MAX_ATTEMPTS):
        assert run(settings, tenant, now).retried == 1
        (_, status, scheduled_for, error) = states(owner_session, tenant)[0]
        assert status == "pending" and scheduled_for == now + delivery.backoff(attempt) and "503" in error
        assert run(settings, tenant, scheduled_for - timedelta(seconds=1)).retried == 0  # not before its time
        now = scheduled_for
    assert run(settings, tenant, now).failed == 1
    assert states(owner_session, tenant)[0][1] == "failed"


def test_sms_through_twilio_for_urgent_only(client, tenant, database, state_dir, owner_session, twilio):  # noqa: F811
    settings = make_settings(database, state_dir, TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                             TWILIO_PHONE_NUMBER=FROM, TWILIO_API_BASE=twilio)
    FakeTwilio.answers = {}  # every number answered 201
    owner_session.execute(text("update app.profiles set phone = '+14155550123' where user_id = :u"),
                          {"u": tenant.user.id})
    owner_session.commit()
    prefer(client, tenant.user, channels={"email": {"enabled": False}, "sms": {"enabled": True}})
    publish(tenant, "email.opened", {"emailId": str(uuid.uuid4()), "userId": str(tenant.user.id)})  # low
    publish(tenant, "email.spam_reported", spam(tenant, tenant.user))  # urgent
    assert [c for c, *_ in states(owner_session, tenant)] == ["sms"]
    assert run(settings, tenant, at("2027-03-03 12:00")).sent == 1
    (sent,) = FakeTwilio.requests
    assert sent["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert sent["form"] == {"To": "+14155550123", "From": FROM,
                            "Body": "angry@example.com reported an e-mail as spam"}
    # without Twilio settings the delivery is skipped, with the reason
    publish(tenant, "email.spam_reported", spam(tenant, tenant.user))
    unconfigured = make_settings(database, state_dir)
    assert run(unconfigured, tenant, at("2027-03-03 12:01")).skipped == 1
    assert "SMS is not configured" in states(owner_session, tenant)[-1][3]


def test_the_subscriber_wakes_the_worker_and_its_job_sends(client, tenant, settings, owner_session):
    from serving.core import queue
    from serving.notifications import jobs

    prefer(client, tenant.user, channels={"email": {"frequency": "instant", "quietHoursStart": None,
                                                    "quietHoursEnd": None}})
    publish(tenant, "task.due_soon", due_soon(tenant.user, "Wake the worker"))
    owner_session.rollback()
    waiting = owner_session.execute(text(
        "select args ->> 'organization_id' from procrastinate.procrastinate_jobs where task_name = :t"
        " and queueing_lock = :l and status = 'todo'"),
        {"t": jobs.DELIVER_TASK, "l": f"notifications:{tenant.organization_id}"}).scalars().all()
    assert waiting == [str(tenant.organization_id)]
    # the sweep finds the organization from its rows too (a lost wake-up, quiet hours over, a retry due)
    assert jobs.sweep(factory=session_factory(settings.api_database_url), now=datetime.now(UTC)) >= 1
    queue.configure(settings)  # what the worker does at start
    try:
        assert jobs.deliver(str(tenant.organization_id))["sent"] == 1  # the job body, as the worker runs it
    finally:
        queue._runtime = None  # the next test's runtime comes from its own settings
    assert [m["Subject"] for m in mails(settings, tenant)] == ["Task due soon: Wake the worker"]

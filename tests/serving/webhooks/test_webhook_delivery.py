"""Webhook deliveries end to end: events from real API actions go through the outbox and the delivery job to a
real local receiver that verifies each one with the official `standardwebhooks` library; retries on a pinned
clock (no sleeps), dead after the last attempt, replay, secret rotation, redirects, 410, filters and batches."""

from __future__ import annotations

import json
import random
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook

from serving.core import queue
from serving.core.db import session_factory
from serving.webhooks import delivery, jobs, targets
from tests.factories import unique_email
from tests.serving.webhooks.conftest import API, add_endpoint, run

VECTORS = Path(__file__).resolve().parents[2] / "fixtures" / "standard_webhooks" / "signature_vectors.json"


def new_prospect(client, tenant) -> str:
    response = client.post("/api/v1/prospects", json={"email": unique_email("lead")}, headers=tenant.user.headers)
    assert response.status_code == 201, response.text
    tenant.deliver_events()  # the outbox's delivery, as the worker runs it: the webhooks subscriber logs it
    return response.json()["id"]


def logs(client, tenant, endpoint_id: str, **params) -> list[dict]:
    response = client.get(f"{API}/{endpoint_id}/logs", params=params, headers=tenant.admin.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def event_ids(owner_session, tenant, type_: str = "prospect.created") -> list[str]:
    owner_session.rollback()
    return [str(i) for i in owner_session.execute(text(
        "select id from app.domain_events where organization_id = :o and type = :t order by recorded_at"),
        {"o": tenant.organization_id, "t": type_}).scalars()]


# ---- the schedule and the signature --------------------------------------------------------------------------

def test_retry_schedule_is_at_least_ten_attempts_over_a_day():
    assert delivery.MAX_ATTEMPTS >= 10
    assert sum(delivery.RETRY_DELAYS, timedelta()) * (1 - delivery.JITTER) >= timedelta(hours=24)
    assert list(delivery.RETRY_DELAYS) == sorted(delivery.RETRY_DELAYS)  # backing off, never speeding up
    rng = random.Random(7)
    for attempts, base in enumerate(delivery.RETRY_DELAYS, start=1):
        delay = delivery.retry_delay(attempts, rng=rng)
        assert base * (1 - delivery.JITTER) <= delay <= base * (1 + delivery.JITTER)
    jittered = {delivery.retry_delay(1, rng=rng) for _ in range(5)}
    assert len(jittered) > 1  # jitter: failing deliveries do not retry in step
    assert delivery.retry_delay(delivery.MAX_ATTEMPTS) is None


def test_signing_matches_the_published_standard_webhooks_vector():
    vector = json.loads(VECTORS.read_text())["published_vectors"][0]
    headers = delivery.signed_headers(message_id=vector["msg_id"], body=vector["payload"].encode(),
                                      secrets=[vector["secret"]],
                                      sent_at=datetime.fromtimestamp(vector["timestamp"], UTC))
    assert headers["webhook-signature"] == vector["expected_signature"]
    assert headers["webhook-timestamp"] == str(vector["timestamp"])


# ---- end to end -------------------------------------------------------------------------------------------------

def test_a_new_prospect_reaches_the_receiver_through_the_outbox_and_the_job(
        private_client, private_settings, tenant, receiver, owner_session):
    endpoint = add_endpoint(private_client, tenant, receiver, eventTypes=["prospect.created"])
    prospect_id = new_prospect(private_client, tenant)
    owner_session.rollback()
    waiting = owner_session.execute(text(
        "select args ->> 'organization_id' from procrastinate.procrastinate_jobs where task_name = :t"
        " and queueing_lock = :l and status = 'todo'"),
        {"t": jobs.DELIVER_TASK, "l": f"webhooks:{tenant.organization_id}"}).scalars().all()
    assert waiting == [str(tenant.organization_id)]
    queue.configure(private_settings)  # what the worker does at start
    try:
        assert jobs.deliver(str(tenant.organization_id))["succeeded"] == 1  # the job body, as the worker runs it
    finally:
        queue._runtime = None
    (got,) = receiver.received
    assert got.verified_by == [endpoint["secret"]]
    (event_id,) = event_ids(owner_session, tenant)
    assert got.headers["webhook-id"] == event_id  # the receiver's idempotency key
    assert set(got.json) == {"type", "timestamp", "data"}
    assert got.json["type"] == "prospect.created" and got.json["data"]["prospectId"] == prospect_id
    (log,) = logs(private_client, tenant, endpoint["id"])
    assert log["status"] == "succeeded" and log["attempts"] == 1 and log["responseStatus"] == 200
    assert log["eventIds"] == [event_id] and log["responseBody"] == '{"ok": true}'
    assert "whsec_" not in json.dumps(log)  # the log keeps the request, never the secret


def test_a_failing_receiver_is_retried_on_the_schedule_until_it_succeeds(
        private_client, private_settings, tenant, receiver):
    endpoint = add_endpoint(private_client, tenant, receiver)
    receiver.script = [500, 502, 503]
    new_prospect(private_client, tenant)
    now = datetime.now(UTC)
    for attempt in range(1, 4):
        outcome = run(private_settings, tenant, now)
        assert (outcome.failed, outcome.succeeded) == (1, 0)
        (log,) = logs(private_client, tenant, endpoint["id"])
        assert (log["status"], log["attempts"]) == ("failed", attempt)
        due = datetime.fromisoformat(log["nextAttemptAt"])
        base = delivery.RETRY_DELAYS[attempt - 1]
        assert now + base * (1 - delivery.JITTER) <= due <= now + base * (1 + delivery.JITTER)
        assert run(private_settings, tenant, due - timedelta(seconds=1)).failed == 0  # not due yet: nothing sent
        now = due
    assert run(private_settings, tenant, now).succeeded == 1
    assert len(receiver.received) == 4
    assert {r.headers["webhook-id"] for r in receiver.received} == {log["messageId"]}  # one message, 4 tries
    assert all(r.verified_by for r in receiver.received)
    (log,) = logs(private_client, tenant, endpoint["id"])
    assert (log["status"], log["attempts"], log["nextAttemptAt"]) == ("succeeded", 4, None)
    health = private_client.get(f"{API}/{endpoint['id']}/health", headers=tenant.admin.headers).json()
    assert health["consecutiveFailures"] == 0 and health["successRate"] == 1.0


def test_the_last_failed_attempt_is_dead_after_more_than_a_day(private_client, private_settings, tenant,
                                                              receiver):
    endpoint = add_endpoint(private_client, tenant, receiver)
    receiver.script = [500] * delivery.MAX_ATTEMPTS
    new_prospect(private_client, tenant)
    start = now = datetime.now(UTC)
    for _ in range(delivery.MAX_ATTEMPTS):
        run(private_settings, tenant, now)
        (log,) = logs(private_client, tenant, endpoint["id"])
        if log["nextAttemptAt"]:
            now = datetime.fromisoformat(log["nextAttemptAt"])
    assert (log["status"], log["attempts"], log["nextAttemptAt"]) == ("dead", delivery.MAX_ATTEMPTS, None)
    assert now - start >= timedelta(hours=24)
    assert run(private_settings, tenant, now + timedelta(days=30)).failed == 0  # dead stays dead
    assert len(receiver.received) == delivery.MAX_ATTEMPTS
    health = private_client.get(f"{API}/{endpoint['id']}/health", headers=tenant.admin.headers).json()
    assert health["consecutiveFailures"] == delivery.MAX_ATTEMPTS
    assert (health["dead"], health["successRate"], health["lastError"]) == (1, 0.0, "HTTP 500")
    assert health["p50LatencyMs"] is not None


def test_replay_one_log_and_a_time_range(private_client, private_settings, tenant, receiver):
    endpoint = add_endpoint(private_client, tenant, receiver)
    before = datetime.now(UTC) - timedelta(minutes=1)
    new_prospect(private_client, tenant)
    new_prospect(private_client, tenant)
    assert run(private_settings, tenant, datetime.now(UTC)).succeeded == 2
    first, second = sorted(logs(private_client, tenant, endpoint["id"]), key=lambda log: log["createdAt"])

    response = private_client.post(f"{API}/logs/{first['id']}/replay", headers=tenant.admin.headers)
    assert response.status_code == 202, response.text
    assert response.json()["replayOf"] == first["id"]
    assert run(private_settings, tenant, datetime.now(UTC)).succeeded == 1
    assert receiver.received[-1].headers["webhook-id"] == first["messageId"]
    assert receiver.received[-1].body == receiver.received[0].body

    window = {"from": before.isoformat(), "to": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()}
    response = private_client.post(f"{API}/{endpoint['id']}/replay", json=window, headers=tenant.admin.headers)
    assert response.status_code == 202, response.text
    assert response.json()["replayed"] == 2  # the two originals; the earlier replay is not replayed again
    assert run(private_settings, tenant, datetime.now(UTC)).succeeded == 2
    assert [r.headers["webhook-id"] for r in receiver.received[-2:]] == [first["messageId"], second["messageId"]]
    bad = private_client.post(f"{API}/{endpoint['id']}/replay", json={"from": window["to"], "to": window["from"]},
                              headers=tenant.admin.headers)
    assert bad.status_code == 422 and bad.json()["success"] is False


def test_rotation_signs_with_both_secrets_during_the_overlap_then_only_the_new(
        private_client, private_settings, tenant, receiver):
    endpoint = add_endpoint(private_client, tenant, receiver)
    old = endpoint["secret"]
    response = private_client.post(f"{API}/{endpoint['id']}/rotate-secret", json={"overlapHours": 24},
                                   headers=tenant.admin.headers)
    assert response.status_code == 200, response.text
    new = response.json()["secret"]
    assert new.startswith("whsec_") and new != old
    receiver.secrets.append(new)
    overlap_ends = datetime.fromisoformat(response.json()["previousSecretExpiresAt"])

    new_prospect(private_client, tenant)
    run(private_settings, tenant, datetime.now(UTC))
    during = receiver.received[-1]
    assert during.verified_by == [old, new]
    assert len(during.headers["webhook-signature"].split(" ")) == 2

    new_prospect(private_client, tenant)
    run(private_settings, tenant, overlap_ends + timedelta(seconds=1))
    after = receiver.received[-1]
    assert after.verified_by == [new]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    # the secret is shown at creation and rotation only
    shown = private_client.get(f"{API}/{endpoint['id']}", headers=tenant.admin.headers).json()
    assert "secret" not in shown and old not in json.dumps(shown) and new not in json.dumps(shown)


def test_the_test_endpoint_sends_now_and_answers_with_the_response(private_client, tenant, receiver):
    endpoint = add_endpoint(private_client, tenant, receiver)
    response = private_client.post(f"{API}/{endpoint['id']}/test", headers=tenant.admin.headers)
    assert response.status_code == 200, response.text
    log = response.json()
    assert (log["status"], log["responseStatus"], log["eventTypes"]) == ("succeeded", 200, ["webhook.test"])
    (got,) = receiver.received
    assert got.verified_by == [endpoint["secret"]] and got.json["type"] == "webhook.test"
    receiver.script = [500]
    failed = private_client.post(f"{API}/{endpoint['id']}/test", headers=tenant.admin.headers).json()
    assert (failed["status"], failed["responseStatus"], failed["nextAttemptAt"]) == ("dead", 500, None)


def test_redirects_are_not_followed(private_client, private_settings, tenant, receiver):
    endpoint = add_endpoint(private_client, tenant, receiver)
    receiver.script = [302]
    new_prospect(private_client, tenant)
    assert run(private_settings, tenant, datetime.now(UTC)).failed == 1
    assert [r.path for r in receiver.received] == ["/hooks"]  # never /elsewhere
    (log,) = logs(private_client, tenant, endpoint["id"])
    assert (log["status"], log["responseStatus"]) == ("failed", 302)


def test_410_gone_disables_the_endpoint(private_client, private_settings, tenant, receiver):
    endpoint = add_endpoint(private_client, tenant, receiver)
    receiver.script = [410]
    new_prospect(private_client, tenant)
    assert run(private_settings, tenant, datetime.now(UTC)).dead == 1
    shown = private_client.get(f"{API}/{endpoint['id']}", headers=tenant.admin.headers).json()
    assert shown["enabled"] is False and "410" in shown["disabledReason"]
    new_prospect(private_client, tenant)  # a disabled endpoint is not logged for
    assert len(logs(private_client, tenant, endpoint["id"])) == 1
    enabled = private_client.post(f"{API}/{endpoint['id']}/enable", headers=tenant.admin.headers).json()
    assert enabled["enabled"] is True and enabled["disabledReason"] is None


def test_filters_pick_the_endpoints(private_client, private_settings, tenant, receiver):
    deals = add_endpoint(private_client, tenant, receiver, eventTypes=["deal.won"])
    everything = add_endpoint(private_client, tenant, receiver, eventTypes=["*"])
    new_prospect(private_client, tenant)
    assert logs(private_client, tenant, deals["id"]) == []
    (log,) = logs(private_client, tenant, everything["id"], eventType="prospect.created")
    assert logs(private_client, tenant, everything["id"], eventType="deal.won") == []
    assert logs(private_client, tenant, everything["id"], status="dead") == []
    assert log["status"] == "pending"
    bad = private_client.post(API, json={"url": receiver.url, "allowPrivate": True, "eventTypes": ["deal.wonn"]},
                              headers=tenant.admin.headers)
    assert bad.status_code == 422 and "deal.wonn" in bad.text


def test_a_batch_endpoint_sends_waiting_events_as_one_array(private_client, private_settings, tenant, receiver,
                                                           owner_session):
    endpoint = add_endpoint(private_client, tenant, receiver, batch=True, batchMaxSize=2)
    for _ in range(3):
        new_prospect(private_client, tenant)
    assert run(private_settings, tenant, datetime.now(UTC)).succeeded == 2
    first, second = receiver.received
    assert all(r.verified_by for r in receiver.received)
    assert [len(first.json), len(second.json)] == [2, 1]
    ids = event_ids(owner_session, tenant)
    assert [item["id"] for item in first.json + second.json] == ids
    assert all(set(item) == {"id", "type", "timestamp", "data"} for item in first.json)
    assert first.headers["webhook-id"].startswith("batch_")
    assert len(logs(private_client, tenant, endpoint["id"])) == 2


# ---- SSRF ------------------------------------------------------------------------------------------------------

REFUSED = ["http://127.0.0.1/hook", "http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data/",
           "http://[::1]/hook", "http://localhost/hook", "http://[::ffff:127.0.0.1]/hook", "http://100.64.0.1/",
           "http://0.0.0.0/", "http://224.0.0.1/", "http://192.168.1.10/"]


@pytest.mark.parametrize("url", REFUSED)
def test_private_targets_are_refused_at_creation(client, tenant, url):
    response = client.post(API, json={"url": url}, headers=tenant.admin.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "UNSAFE_WEBHOOK_URL"


def test_other_urls_are_refused_with_a_reason(client, tenant):
    for url in ("ftp://example.com/", "http://user:pw@example.com/", "not a url", "http:///nohost"):
        response = client.post(API, json={"url": url}, headers=tenant.admin.headers)
        assert response.status_code == 422, (url, response.text)


def test_private_targets_need_an_admin_and_the_setting(client, private_client, tenant, receiver):
    body = {"url": receiver.url, "allowPrivate": True}
    off = client.post(API, json=body, headers=tenant.admin.headers)
    assert off.status_code == 422 and off.json()["error"]["code"] == "PRIVATE_TARGETS_DISABLED"
    user = private_client.post(API, json=body, headers=tenant.user.headers)
    assert user.status_code == 403
    assert private_client.post(API, json=body, headers=tenant.admin.headers).status_code == 201
    # metadata addresses stay refused even then
    metadata = private_client.post(API, json={**body, "url": "http://169.254.169.254/"},
                                   headers=tenant.admin.headers)
    assert metadata.status_code == 422


def test_public_addresses_pass_the_check():
    assert targets.refusal(targets.ipaddress.ip_address("93.184.216.34")) is None
    assert targets.refusal(targets.ipaddress.ip_address("2606:2800:220:1:248:1893:25c8:1946")) is None


def test_delivery_checks_again_and_connects_to_the_checked_address(
        private_client, private_settings, settings, tenant, receiver, monkeypatch):
    """A name that resolved to a public address at creation and to loopback at delivery (DNS rebinding) is
    refused; with private targets allowed, the connection goes to the address checked, not a second lookup."""
    answers = {"hooks.rebind.test": "93.184.216.34"}
    real = socket.getaddrinfo

    def fake_dns(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(targets.socket, "getaddrinfo", fake_dns)
    url = f"http://hooks.rebind.test:{receiver.port}/hooks"
    created = private_client.post(API, json={"url": url}, headers=tenant.admin.headers)
    assert created.status_code == 201, created.text
    receiver.secrets.append(created.json()["secret"])
    answers["hooks.rebind.test"] = "127.0.0.1"  # the name now points inside
    new_prospect(private_client, tenant)
    assert run(private_settings, tenant, datetime.now(UTC)).failed == 1
    assert receiver.received == []
    (log,) = logs(private_client, tenant, created.json()["id"])
    assert log["error"].startswith("refused:") and "loopback" in log["error"]

    # an admin's private endpoint to the same name: delivered to the pinned address with the name as Host
    private = private_client.post(API, json={"url": url, "allowPrivate": True}, headers=tenant.admin.headers)
    receiver.secrets.append(private.json()["secret"])
    new_prospect(private_client, tenant)
    run(private_settings, tenant, datetime.now(UTC))
    (got,) = receiver.received
    assert got.headers["host"] == f"hooks.rebind.test:{receiver.port}" and got.verified_by
    # and when the installation turns private targets off, even the admin's endpoint is refused at delivery
    new_prospect(private_client, tenant)
    run(settings, tenant, datetime.now(UTC))
    assert len(receiver.received) == 1


def test_webhook_secret_verifies_with_the_official_library():
    secret = __import__("serving.webhooks.service", fromlist=["new_secret"]).new_secret()
    body = b'{"type":"x","timestamp":"2026-01-01T00:00:00Z","data":{}}'
    headers = delivery.signed_headers(message_id="m1", body=body, secrets=[secret], sent_at=datetime.now(UTC))
    assert Webhook(secret).verify(body, headers) == json.loads(body)


def test_the_sweep_wakes_an_organization_when_its_retry_comes_due(private_client, private_settings, tenant,
                                                                  receiver, owner_session):
    endpoint = add_endpoint(private_client, tenant, receiver)
    receiver.script = [500]
    new_prospect(private_client, tenant)
    now = datetime.now(UTC)
    run(private_settings, tenant, now)
    (log,) = logs(private_client, tenant, endpoint["id"])
    due = datetime.fromisoformat(log["nextAttemptAt"])
    lock = f"webhooks:{tenant.organization_id}"

    def waiting() -> int:
        owner_session.rollback()
        return owner_session.execute(text(
            "select count(*) from procrastinate.procrastinate_jobs where queueing_lock = :l and status = 'todo'"),
            {"l": lock}).scalar()

    owner_session.execute(text("delete from procrastinate.procrastinate_jobs where queueing_lock = :l"),
                          {"l": lock})
    owner_session.commit()
    factory = session_factory(private_settings.api_database_url)
    jobs.sweep(factory=factory, now=due - timedelta(seconds=1))
    assert waiting() == 0  # nothing due yet for this organization
    jobs.sweep(factory=factory, now=due)
    assert waiting() == 1
    assert run(private_settings, tenant, due).succeeded == 1


def test_secrets_are_stored_sealed(private_client, private_settings, tenant, receiver, owner_session):
    from serving.core.sealing import unseal

    endpoint = add_endpoint(private_client, tenant, receiver)
    rotated = private_client.post(f"{API}/{endpoint['id']}/rotate-secret", headers=tenant.admin.headers).json()
    owner_session.rollback()
    current, previous = owner_session.execute(text(
        "select secret, previous_secret from app.webhook_endpoints where id = :id"), {"id": endpoint["id"]}).one()
    assert "whsec_" not in current + previous
    assert (unseal(private_settings, current, purpose="webhook-secrets"),
            unseal(private_settings, previous, purpose="webhook-secrets")) == (rotated["secret"],
                                                                                        endpoint["secret"])


def test_an_unreadable_secret_sends_nothing_and_says_why(private_client, private_settings, database, state_dir,
                                                         tenant, receiver):
    from tests.conftest import make_settings

    endpoint = add_endpoint(private_client, tenant, receiver)
    new_prospect(private_client, tenant)
    other_key = make_settings(database, state_dir, WEBHOOKS_ALLOW_PRIVATE_TARGETS="true",
                              JWT_SECRET="another-secret-" + "x" * 40)
    assert run(other_key, tenant, datetime.now(UTC)).failed == 1
    assert receiver.received == []
    (log,) = logs(private_client, tenant, endpoint["id"])
    assert "rotate it" in log["error"] and log["status"] == "failed"

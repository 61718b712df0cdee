"""SPF / DKIM / DMARC readiness through a fake resolver; mailbox caps and warm-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dns.resolver
from sqlalchemy import event

from serving.emails import mailboxes
from serving.emails.models import Mailbox


class FakeRecord:
    def __init__(self, value: str) -> None:
        self.strings = [value.encode()]


class FakeResolver:
    def __init__(self, zone: dict[str, list[str]]) -> None:
        self.zone = zone
        self.asked: list[str] = []

    def resolve(self, name: str, rdtype: str):
        self.asked.append(name)
        if name not in self.zone:
            raise dns.resolver.NXDOMAIN()
        return [FakeRecord(v) for v in self.zone[name]]


def test_ready_domain(client, app, tenant):
    app.state.dns_resolver = FakeResolver(
        {
            "good.test": ["v=spf1 include:sendgrid.net ~all", "google-site-verification=x"],
            "s1._domainkey.good.test": ["v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC"],
            "_dmarc.good.test": ["v=DMARC1; p=quarantine; rua=mailto:d@good.test"],
        }
    )
    try:
        body = client.get(
            "/api/v1/emails/deliverability?domain=good.test", headers=tenant.user.headers
        ).json()
    finally:
        del app.state.dns_resolver
    assert body["ready"] is True
    assert [(c["record"], c["status"]) for c in body["checks"]] == [
        ("SPF", "pass"),
        ("DKIM", "pass"),
        ("DMARC", "pass"),
    ]


def test_problems_are_reported(client, app, tenant):
    app.state.dns_resolver = FakeResolver(
        {
            "bad.test": ["v=spf1 -all", "v=spf1 include:x ~all"],
            "_dmarc.bad.test": ["v=DMARC1; p=none"],
        }
    )
    try:
        body = client.get(
            "/api/v1/emails/deliverability?domain=bad.test&selector=rv", headers=tenant.viewer.headers
        ).json()
    finally:
        del app.state.dns_resolver
    assert body["ready"] is False
    statuses = {c["record"]: c["status"] for c in body["checks"]}
    assert statuses == {"SPF": "fail", "DKIM": "fail", "DMARC": "warn"}
    assert body["checks"][1]["name"] == "rv._domainkey.bad.test"


def test_warmup_ramp_caps_a_mailbox():
    start = datetime(2030, 1, 1, tzinfo=UTC)
    mailbox = Mailbox(
        daily_cap=100,
        warmup_enabled=True,
        warmup_started_on=start,
        warmup_start_cap=20,
        warmup_daily_increase=10,
    )
    assert [mailboxes.effective_cap(mailbox, start + timedelta(days=d)) for d in (0, 1, 5, 30)] == [
        20,
        30,
        70,
        100,
    ]
    # the schedule the settings page draws: day by day from today until the ramp reaches the cap, then it ends
    schedule = mailboxes.warmup_schedule(mailbox, start + timedelta(days=5))
    assert [cap for _, cap in schedule] == [70, 80, 90, 100]
    assert schedule[0][0] == start + timedelta(days=5)
    assert mailboxes.warmup_schedule(mailbox, start + timedelta(days=8)) == []  # warmed up
    mailbox.warmup_enabled = False
    assert mailboxes.effective_cap(mailbox, start) == 100
    assert mailboxes.warmup_schedule(mailbox, start) == []


def test_mailbox_daily_cap_defers_the_rest(client, tenant, deliver, make_prospect, clock):
    mailbox = client.post(
        "/api/v1/mailboxes",
        headers=tenant.user.headers,
        json={"email": "rep@example.org", "displayName": "Rep", "dailyCap": 2},
    ).json()
    for _ in range(3):
        prospect = make_prospect()
        assert (
            client.post(
                "/api/v1/emails/send",
                headers=tenant.user.headers,
                json={
                    "to": [{"email": prospect.email}],
                    "subject": "Hi",
                    "text": "x",
                    "mailboxId": mailbox["id"],
                },
            ).status_code
            == 202
        )
    assert deliver(tenant) == {"sent": 2, "deferred_cap": 1}
    listed = client.get("/api/v1/mailboxes", headers=tenant.user.headers).json()["data"]
    assert listed[0]["sentToday"] == 2 and listed[0]["todaysCap"] == 2
    tomorrow = datetime.now(UTC) + timedelta(days=1, hours=1)
    assert deliver(tenant, now=tomorrow) == {"sent": 1}


def test_a_mailbox_cannot_be_given_another_tenants_user(client, tenant, other_tenant):
    # the foreign key alone would accept the other organization's user: row-level security does not cover it
    created = client.post(
        "/api/v1/mailboxes",
        headers=tenant.user.headers,
        json={"email": "owner@example.org", "userId": str(tenant.user.id)},
    )
    assert created.status_code == 201, created.text
    for method, path in (("post", "/api/v1/mailboxes"), ("put", f"/api/v1/mailboxes/{created.json()['id']}")):
        response = client.request(
            method,
            path,
            headers=tenant.user.headers,
            json={"email": "stolen@example.org", "userId": str(other_tenant.user.id)},
        )
        assert response.status_code == 422, (method, response.text)
        assert response.json()["error"]["details"]["field"] == "userId"
    assert client.get("/api/v1/mailboxes", headers=tenant.user.headers).json()["data"][0]["userId"] == str(
        tenant.user.id
    )


def test_listing_mailboxes_costs_the_same_statements_for_two_or_six(client, app, tenant):
    engine = app.state.session_factory.kw["bind"]

    def listing_statements() -> list[str]:
        seen: list[str] = []

        def count(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            response = client.get("/api/v1/mailboxes", headers=tenant.user.headers)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200, response.text
        return seen

    def add(count: int, start: int) -> None:
        for i in range(start, start + count):
            created = client.post(
                "/api/v1/mailboxes", headers=tenant.user.headers, json={"email": f"box{i}@example.org"}
            )
            assert created.status_code == 201, created.text

    add(2, 0)
    two = listing_statements()
    add(4, 2)
    six = listing_statements()
    # the old listing counted today's sends with one query per mailbox on the page
    assert len(six) == len(two), (len(two), len(six))

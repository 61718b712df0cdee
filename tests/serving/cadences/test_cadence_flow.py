"""End to end: a 3-step cadence across time zones on a controllable clock; reply and unsubscribe stop it."""

from __future__ import annotations

import email as email_lib
import re
from datetime import UTC, datetime
from email import policy

from sqlalchemy import select

from serving.cadences import service as cadences
from serving.cadences.models import CadenceEnrollment
from serving.core import outbox
from serving.core.db import tenant_session
from serving.core.principal import Principal
from serving.emails import engagement, runner
from serving.emails.delivery.outbox import OutboxBackend
from serving.emails.models import Email
from serving.subscribers import REGISTRY
from tests.serving.outreach_fixtures import Clock

MONDAY_NOON_UTC = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


def _principal(tenant) -> Principal:
    return Principal(
        organization_id=tenant.organization_id, user_id=tenant.user.id, role="user", team_id=tenant.team_id
    )


class Harness:
    def __init__(self, app, settings, tenant, clock):
        self.app, self.settings, self.tenant, self.clock = app, settings, tenant, clock
        self.factory = app.state.session_factory
        self.delivered: list[tuple[datetime, str, str]] = []

    def tick(self) -> None:
        """What the worker does at `clock.now`: react to domain events, run due steps, deliver due emails."""
        self.deliver_events()
        cadences.run_due(
            factory=self.factory,
            settings=self.settings,
            organization_id=self.tenant.organization_id,
            now=self.clock,
        )
        runner.deliver_due(
            factory=self.factory,
            settings=self.settings,
            organization_id=self.tenant.organization_id,
            backend=OutboxBackend(self.settings.outbox_dir),
            now=self.clock,
        )

    def deliver_events(self) -> None:
        outbox.deliver(factory=self.factory, organization_id=self.tenant.organization_id, registry=REGISTRY,
                       now=self.clock)

    def outbox(self) -> list[tuple[str, str, str]]:
        folder = self.settings.outbox_dir / str(self.tenant.organization_id)
        out = []
        for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
            msg = email_lib.message_from_bytes(path.read_bytes(), policy=policy.default)
            out.append((msg["To"].addresses[0].addr_spec, msg["Subject"], msg["Date"]))
        return sorted(out)

    def run_until(self, hours: int) -> None:
        for _ in range(hours * 4):
            self.clock.advance(minutes=15)
            self.tick()


def test_three_step_cadence_across_time_zones(client, app, settings, tenant, make_prospect):
    clock = Clock(MONDAY_NOON_UTC)
    h = Harness(app, settings, tenant, clock)
    intro = client.post(
        "/api/v1/email-templates",
        headers=tenant.user.headers,
        json={"name": "intro", "subject": "Quick question about {{company}}", "text": "Hi {{firstName}}"},
    ).json()
    follow = client.post(
        "/api/v1/email-templates",
        headers=tenant.user.headers,
        json={"name": "follow", "subject": "Following up, {{firstName}}", "text": "Still keen?"},
    ).json()
    cadence = client.post(
        "/api/v1/cadences",
        headers=tenant.user.headers,
        json={
            "name": "SDR Outreach - Tech Companies",
            "description": "5-day sequence",
            "settings": {"businessHours": {"start": "09:00", "end": "17:00"}, "workingDays": [1, 2, 3, 4, 5]},
            "steps": [
                {"stepNumber": 1, "type": "email", "delayDays": 0, "templateId": intro["id"]},
                {"stepNumber": 2, "type": "call", "delayDays": 2, "content": "Follow-up call"},
                {"stepNumber": 3, "type": "email", "delayDays": 3, "templateId": follow["id"]},
            ],
        },
    ).json()
    assert [s["type"] for s in cadence["steps"]] == ["email", "call", "email"]
    ny = make_prospect(
        email="ny@example.com".replace("ny", f"ny-{tenant.organization_id.hex[:8]}"),
        first_name="Nia",
        company="Gotham",
        timezone="America/New_York",
    )
    tokyo = make_prospect(
        email=f"tk-{tenant.organization_id.hex[:8]}@example.com",
        first_name="Taro",
        company="Edo",
        timezone="Asia/Tokyo",
    )
    london = make_prospect(
        email=f"ld-{tenant.organization_id.hex[:8]}@example.com",
        first_name="Liz",
        company="Thames",
        enrichment_data={"timezone": "Europe/London"},
    )
    no_email_yet = make_prospect(email=f"x-{tenant.organization_id.hex[:8]}@example.com")
    client.post(
        "/api/v1/emails/suppressions", json={"email": no_email_yet.email}, headers=tenant.user.headers
    )

    with tenant_session(h.factory, tenant.organization_id) as session:
        cadence_row = cadences.get(db_session=session, cadence_id=cadence["id"])
        results = cadences.enroll(
            db_session=session,
            principal=_principal(tenant),
            cadence=cadence_row,
            prospect_ids=[ny.id, tokyo.id, london.id, no_email_yet.id, ny.id],
            now=clock(),
        )
    assert [r["result"] for r in results] == ["enrolled", "enrolled", "enrolled", "suppressed"]
    again = client.post(
        f"/api/v1/cadences/{cadence['id']}/enroll",
        headers=tenant.user.headers,
        json={"prospectIds": [str(ny.id)]},
    ).json()
    assert again["counts"] == {"already_enrolled": 1}

    # Monday 12:00 UTC: London (12:00 local) is in hours; New York is 07:00, Tokyo is 21:00.
    h.tick()
    assert h.outbox() == [(london.email, "Quick question about Thames", "Mon, 07 Jan 2030 12:00:00 +0000")]
    h.run_until(hours=2)  # 14:00 UTC = 09:00 New York
    assert [row[0] for row in h.outbox()] == sorted([london.email, ny.email])
    h.run_until(hours=10)  # Tuesday 00:00 UTC = 09:00 Tokyo
    assert len(h.outbox()) == 3
    tokyo_mail = next(r for r in h.outbox() if r[0] == tokyo.email)
    assert tokyo_mail == (tokyo.email, "Quick question about Edo", "Tue, 08 Jan 2030 00:00:00 +0000")

    # London replies (JSON inbound, matched by In-Reply-To): her enrollment pauses at once.
    with tenant.session() as session:
        london_email = session.scalars(
            select(Email).where(Email.prospect_id == london.id)
        ).one()
    reply = client.post(
        "/api/v1/inbound/email",
        json={
            "from": london.email,
            "subject": "Re: Quick question",
            "text": "Not now, thanks",
            "inReplyTo": f"<{london_email.message_id}>",
            "messageId": "<reply-1@mail.thames.test>",
        },
    )
    assert reply.json() == {"matched": True, "emailId": str(london_email.id)}
    # Tokyo unsubscribes with the one-click POST from his email's header.
    with tenant.session() as session:
        tokyo_email = session.scalars(select(Email).where(Email.prospect_id == tokyo.id)).one()
    header = runner.prepare(tokyo_email, settings).headers["List-Unsubscribe"]
    client.post(
        re.search(r"(/api/v1/unsubscribe/[^>]+)>", header).group(1), content="List-Unsubscribe=One-Click"
    )

    # Wednesday: the call step becomes a task for the rep (New York only), at 09:00 New York.
    h.run_until(hours=24 + 14)  # Wednesday 14:00 UTC
    tasks = client.get("/api/v1/tasks?status=pending", headers=tenant.user.headers).json()["data"]
    assert [(t["type"], t["prospectId"]) for t in tasks] == [("call", str(ny.id))]
    done = client.post(
        f"/api/v1/tasks/{tasks[0]['id']}/complete",
        headers=tenant.user.headers,
        json={"outcome": "voicemail", "notes": "left a message"},
    )
    assert done.json()["status"] == "completed"

    # Step 3: 3 days after Wednesday is Saturday, so it waits for Monday 09:00 New York.
    h.run_until(hours=24 * 4)  # to Sunday 14:00 UTC
    assert len(h.outbox()) == 3
    h.run_until(hours=24 + 1)  # Monday 15:00 UTC
    final = h.outbox()
    assert len(final) == 4
    assert (ny.email, "Following up, Nia", "Mon, 14 Jan 2030 14:00:00 +0000") in final
    assert [r[0] for r in final].count(london.email) == 1 and [r[0] for r in final].count(tokyo.email) == 1

    with tenant.session() as session:
        states = {
            e.prospect_id: (e.status, e.pause_reason)
            for e in session.scalars(
                select(CadenceEnrollment).where(CadenceEnrollment.cadence_id == cadence["id"])
            )
        }
    assert states == {
        ny.id: ("completed", None),
        london.id: ("paused", "replied"),
        tokyo.id: ("paused", "unsubscribed"),
    }
    analytics = client.get(
        f"/api/v1/cadences/{cadence['id']}/analytics", headers=tenant.viewer.headers
    ).json()
    assert analytics["emails"]["sent"] == 4 and analytics["emails"]["replied"] == 1
    assert analytics["enrollments"] == {"completed": 1, "paused": 2}
    timeline = client.get(f"/api/v1/prospects/{london.id}/activities", headers=tenant.user.headers).json()[
        "data"
    ]
    assert {"email_sent", "email_received"} <= {a["type"] for a in timeline}


def test_branching_and_ab_variants(client, app, settings, tenant, make_prospect):
    clock = Clock(MONDAY_NOON_UTC)
    h = Harness(app, settings, tenant, clock)
    cadence = client.post(
        "/api/v1/cadences",
        headers=tenant.user.headers,
        json={
            "name": "AB",
            "settings": {"businessHoursOnly": False},
            "steps": [
                {
                    "type": "email",
                    "subject": "Hello {{firstName}}",
                    "content": "Hi",
                    "variants": [
                        {"name": "A", "weight": 1, "subject": "Variant A"},
                        {"name": "B", "weight": 1, "subject": "Variant B"},
                    ],
                },
                {
                    "type": "email",
                    "delayHours": 1,
                    "subject": "Saw you opened",
                    "content": "x",
                    "conditions": {"if": "opened", "else": "skip"},
                },
                {"type": "task", "delayHours": 1, "content": "Research"},
            ],
        },
    ).json()
    prospects = [make_prospect() for _ in range(12)]
    with tenant_session(h.factory, tenant.organization_id) as session:
        cadences.enroll(
            db_session=session,
            principal=_principal(tenant),
            cadence=cadences.get(db_session=session, cadence_id=cadence["id"]),
            prospect_ids=[p.id for p in prospects],
            now=clock(),
        )
    h.tick()
    subjects = [row[1] for row in h.outbox()]
    assert len(subjects) == 12 and set(subjects) == {"Variant A", "Variant B"}
    with tenant.session() as session, session.begin():
        opener = session.scalars(
            select(Email).where(Email.prospect_id == prospects[0].id)
        ).one()
        engagement.track_open(db_session=session, email=opener, occurred_at=clock())
    h.run_until(hours=3)
    assert [row[1] for row in h.outbox()].count("Saw you opened") == 1
    analytics = client.get(f"/api/v1/cadences/{cadence['id']}/analytics", headers=tenant.user.headers).json()
    step1, step2, step3 = analytics["steps"]
    assert sum(v["sent"] for v in step1["variants"]) == 12
    assert step2["runs"] == {"email_queued": 1, "skipped": 11}
    assert step3["runs"] == {"task_created": 12}

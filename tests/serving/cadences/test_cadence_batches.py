"""Due steps run a claimed batch at a time: every rule still holds per enrollment inside one batch, and one
failing enrollment does not stop (or undo) the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from serving.activities.models import Activity, ActivityType
from serving.cadences import service as cadences
from serving.cadences.models import CadenceEnrollment
from serving.core.db import tenant_session
from serving.core.principal import Principal
from serving.emails import sending
from serving.emails.models import EmailBlacklist

T0 = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


def _setup(client, app, tenant, make_prospect, names):
    cadence = client.post("/api/v1/cadences", headers=tenant.user.headers, json={
        "name": "batch", "settings": {"businessHoursOnly": False},
        "steps": [{"stepNumber": 1, "type": "email", "subject": "Hi {{firstName}}", "content": "Quick one"},
                  {"stepNumber": 2, "type": "call", "delayDays": 2}]}).json()
    people = {name: make_prospect(email=f"{name}-{tenant.organization_id.hex[:8]}@example.com", first_name=name)
              for name in names}
    principal = Principal(organization_id=tenant.organization_id, user_id=tenant.user.id, role="user",
                          team_id=tenant.team_id)
    factory = app.state.session_factory
    with tenant_session(factory, tenant.organization_id) as session:
        results = cadences.enroll(db_session=session, principal=principal,
                                  cadence=cadences.get(db_session=session, cadence_id=cadence["id"]),
                                  prospect_ids=[p.id for p in people.values()], now=T0)
    assert {r["result"] for r in results} == {"enrolled"}
    return factory, people


def _states(factory, tenant, people):
    with tenant_session(factory, tenant.organization_id) as session:
        rows = {e.prospect_id: e for e in session.query(CadenceEnrollment)}
        return {name: (rows[p.id].status, rows[p.id].pause_reason, rows[p.id].next_step_number)
                for name, p in people.items()}


def test_one_batch_keeps_each_enrollments_rules(client, app, settings, tenant, make_prospect, caplog):
    factory, people = _setup(client, app, tenant, make_prospect, ["plain", "met", "blocked"])
    tenant.add(Activity, type=ActivityType.meeting_scheduled, prospect_id=people["met"].id,
               occurred_at=T0 + timedelta(seconds=30))
    tenant.add(EmailBlacklist, email=people["blocked"].email, reason="hard_bounce")

    outcomes = cadences.run_due(factory=factory, settings=settings, organization_id=tenant.organization_id,
                                now=T0 + timedelta(minutes=1), batch_size=10)

    assert outcomes == {"email_queued": 1, "paused": 1, "suppressed": 1}
    assert "cadence batch failed" not in caplog.text  # all three ran in the batch, not one by one
    assert _states(factory, tenant, people) == {
        "plain": ("active", None, 2),
        "met": ("paused", "meeting_booked", 1),
        "blocked": ("paused", "suppressed:hard_bounce", 1),
    }
    # run again: nothing is due, nothing runs twice
    assert not cadences.run_due(factory=factory, settings=settings, organization_id=tenant.organization_id,
                                now=T0 + timedelta(minutes=2), batch_size=10)


def test_a_failing_enrollment_leaves_the_rest_of_its_batch_done(client, app, settings, tenant, make_prospect,
                                                               monkeypatch):
    factory, people = _setup(client, app, tenant, make_prospect, ["ok1", "broken", "ok2"])
    real = sending.email_values

    def email_values(**kwargs):  # a fault in one enrollment's rendering, say (batch and one-by-one paths)
        if kwargs["request"].to[0].email == people["broken"].email:
            raise RuntimeError("boom")
        return real(**kwargs)

    monkeypatch.setattr(sending, "email_values", email_values)
    outcomes = cadences.run_due(factory=factory, settings=settings, organization_id=tenant.organization_id,
                                now=T0 + timedelta(minutes=1), batch_size=10)

    assert outcomes == {"email_queued": 2, "error:RuntimeError": 1}
    states = _states(factory, tenant, people)
    assert states["ok1"] == states["ok2"] == ("active", None, 2)
    assert states["broken"] == ("active", None, 1)  # retried later, step 1 not recorded

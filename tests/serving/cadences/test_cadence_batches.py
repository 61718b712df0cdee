"""Due steps run a claimed batch at a time: every rule still holds per enrollment inside one batch, and one
failing enrollment does not stop (or undo) the others."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta

from serving.activities.models import Activity, ActivityType
from serving.cadences import service as cadences
from serving.cadences.models import CadenceEnrollment, CadenceStepRun
from serving.core.db import tenant_session
from serving.core.principal import Principal
from serving.emails import sending
from serving.emails.models import Email, EmailBlacklist
from serving.prospects.models import Prospect

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


def _outcome(factory, tenant, people):
    """Per prospect name: the enrollment's state, its step runs and its e-mail as rendered (ids left out)."""
    with tenant_session(factory, tenant.organization_id) as session:
        enrollments = {e.prospect_id: e for e in session.query(CadenceEnrollment)}
        runs = {r.enrollment_id: r for r in session.query(CadenceStepRun)}
        emails = {e.enrollment_id: e for e in session.query(Email)}
        out = {}
        for name, prospect in people.items():
            enrollment = enrollments[prospect.id]
            run, email = runs.get(enrollment.id), emails.get(enrollment.id)
            out[name] = (
                (enrollment.status, enrollment.pause_reason, enrollment.paused_at, enrollment.next_step_number,
                 enrollment.next_run_at, enrollment.last_step_at, enrollment.completed_at),
                run and (run.status, run.reason, run.executed_at, run.email_id == (email and email.id)),
                email and (email.subject, email.text, email.to[0]["name"], email.status, email.send_at,
                           re.sub(r"/unsubscribe/\S+", "", email.html or "")),
            )
        return out


def test_a_batch_writes_what_one_enrollment_at_a_time_writes(client, app, settings, tenant, other_tenant,
                                                            make_prospect, monkeypatch):
    names = ["plain", "met", "blocked"]
    runs = {}
    for org, one_by_one in ((tenant, True), (other_tenant, False)):
        factory, people = _setup(client, app, org, lambda org=org, **values: org.add(
            Prospect, last_name="Lovelace", company="Analytical & Co", **values), names)
        org.add(Activity, type=ActivityType.meeting_scheduled, prospect_id=people["met"].id,
                occurred_at=T0 + timedelta(seconds=30))
        org.add(EmailBlacklist, email=people["blocked"].email, reason="hard_bounce")
        with monkeypatch.context() as patch:
            if one_by_one:  # the fallback: every enrollment in a savepoint of its own, written by the ORM
                patch.setattr(cadences, "_run_batch", lambda *args: (None, []))
            outcomes = cadences.run_due(factory=factory, settings=settings, organization_id=org.organization_id,
                                        now=T0 + timedelta(minutes=1), batch_size=10)
        assert outcomes == {"email_queued": 1, "paused": 1, "suppressed": 1}
        runs[one_by_one] = _outcome(factory, org, people)
    assert runs[False] == runs[True]
    assert runs[False]["plain"][0][:4] == ("active", None, None, 2)
    assert runs[False]["plain"][2][0] == "Hi plain"


def test_parallel_batches_run_each_due_step_once(client, app, settings, tenant, make_prospect, monkeypatch):
    names = [f"p{i}" for i in range(24)]
    factory, people = _setup(client, app, tenant, make_prospect, names)
    threads = []
    real = cadences._run_batch

    def run_batch(session, settings, due, now):  # slow enough that both runners hold a batch at once
        threads.append(threading.current_thread().name)
        time.sleep(0.2)
        return real(session, settings, due, now)

    monkeypatch.setattr(cadences, "_run_batch", run_batch)
    outcomes = cadences.run_due(factory=factory, settings=settings, organization_id=tenant.organization_id,
                                now=T0 + timedelta(minutes=1), batch_size=5, parallel=2)

    assert outcomes == {"email_queued": len(names)}
    assert len(set(threads)) == 2  # two batches were under way at once
    with tenant_session(factory, tenant.organization_id) as session:
        emails = session.query(Email.enrollment_id).filter(Email.enrollment_id.isnot(None)).all()
        runs = session.query(CadenceStepRun.enrollment_id, CadenceStepRun.step_id).all()
        assert len(emails) == len({e for (e,) in emails}) == len(names)  # one e-mail per enrollment
        assert len(runs) == len(set(runs)) == len(names)
    assert set(_states(factory, tenant, people).values()) == {("active", None, 2)}
    assert not cadences.run_due(factory=factory, settings=settings, organization_id=tenant.organization_id,
                                now=T0 + timedelta(minutes=2), batch_size=5, parallel=2)

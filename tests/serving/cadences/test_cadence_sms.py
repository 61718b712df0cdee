"""SMS steps through Twilio's Messages API (faked at the HTTP boundary with Twilio's documented shapes).

Sent → one message and an `sms_sent` activity; refused for good (a 4xx such as 21211, invalid number) → a task
for the rep, no retry loop; a transient error (503) → retried with backoff and sent exactly once.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from serving.activities.models import Activity
from serving.cadences import service as cadences
from serving.cadences.models import CadenceEnrollment, CadenceStepRun
from serving.core.db import tenant_session
from serving.core.principal import Principal
from serving.tasks.models import Task
from tests.conftest import make_settings
from tests.serving.cadences.test_cadence_flow import MONDAY_NOON_UTC
from tests.serving.outreach_fixtures import Clock

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "twilio-test-token"
FROM = "+15005550006"


class FakeTwilio(BaseHTTPRequestHandler):
    """POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded, HTTP basic auth (SID:token)."""

    requests: list[dict] = []
    answers: dict[str, list[int]] = {}  # per "To" number, the status codes to answer in order; then 201

    def do_POST(self):
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}
        auth = base64.b64decode(self.headers["Authorization"].split()[1]).decode()
        queued = FakeTwilio.answers.get(form["To"], [])
        status = queued.pop(0) if queued else 201
        FakeTwilio.requests.append({"path": self.path, "auth": auth, "form": form, "status": status,
                                    "content_type": self.headers["Content-Type"]})
        if status == 201:
            sent = sum(r["status"] == 201 for r in FakeTwilio.requests)
            body = {"sid": f"SM{sent:032d}", "account_sid": ACCOUNT_SID, "to": form["To"], "from": FROM,
                    "body": form["Body"], "status": "queued", "num_segments": "1", "direction": "outbound-api"}
        elif status == 400:
            body = {"code": 21211, "message": "The 'To' number is not a valid phone number.",
                    "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}
        else:
            body = {"code": 20500, "message": "Internal Server Error", "status": status}
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def twilio():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeTwilio)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeTwilio.requests, FakeTwilio.answers = [], []
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _sms_cadence(client, tenant) -> dict:
    return client.post("/api/v1/cadences", headers=tenant.user.headers, json={
        "name": "Text touch", "settings": {"workingDays": [1, 2, 3, 4, 5, 6, 7]},
        "steps": [{"stepNumber": 1, "type": "sms", "delayDays": 0, "content": "Hi {{firstName}}, quick text"},
                  {"stepNumber": 2, "type": "task", "delayDays": 1, "content": "Check in"}],
    }).json()


def _enroll(app, tenant, cadence: dict, prospects, now) -> None:
    principal = Principal(organization_id=tenant.organization_id, user_id=tenant.user.id, role="user",
                          team_id=tenant.team_id)
    with tenant_session(app.state.session_factory, tenant.organization_id) as session:
        row = cadences.get(db_session=session, cadence_id=cadence["id"])
        results = cadences.enroll(db_session=session, principal=principal, cadence=row,
                                  prospect_ids=[p.id for p in prospects], now=now)
    assert [r["result"] for r in results] == ["enrolled"] * len(prospects)


def test_sms_steps_go_through_twilio_or_become_tasks(client, app, database, state_dir, tenant, make_prospect,
                                                      twilio):
    settings = make_settings(database, state_dir, TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                             TWILIO_PHONE_NUMBER=FROM, TWILIO_API_BASE=twilio)
    clock = Clock(MONDAY_NOON_UTC)
    tag = tenant.organization_id.hex[:8]
    ok = make_prospect(email=f"sms-ok-{tag}@example.com", first_name="Sam", phone="+14155550101", timezone="UTC")
    bad = make_prospect(email=f"sms-bad-{tag}@example.com", first_name="Bo", phone="+1415", timezone="UTC")
    flaky = make_prospect(email=f"sms-flaky-{tag}@example.com", first_name="Fay", phone="+14155550103",
                          timezone="UTC")
    _enroll(app, tenant, _sms_cadence(client, tenant), [ok, bad, flaky], clock())
    FakeTwilio.answers = {bad.phone: [400], flaky.phone: [503]}

    def tick(**delta):
        clock.advance(**delta)
        return dict(cadences.run_due(factory=app.state.session_factory, settings=settings,
                                     organization_id=tenant.organization_id, now=clock))

    assert tick(minutes=1) == {"sms_sent": 1, "task_created": 1, "error:HTTPStatusError": 1}
    sent = [r for r in FakeTwilio.requests if r["status"] == 201]
    assert len(sent) == 1
    assert sent[0]["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert sent[0]["auth"] == f"{ACCOUNT_SID}:{AUTH_TOKEN}"
    assert sent[0]["content_type"] == "application/x-www-form-urlencoded"
    assert sent[0]["form"] == {"To": ok.phone, "From": FROM, "Body": "Hi Sam, quick text"}
    with tenant_session(app.state.session_factory, tenant.organization_id) as session:
        activity = session.scalar(select(Activity).where(Activity.prospect_id == ok.id, Activity.type == "sms_sent"))
        assert activity.metadata_["twilioSid"] == f"SM{1:032d}"
        task = session.scalar(select(Task).where(Task.prospect_id == bad.id))
        assert task.type == "sms" and "21211" in task.description and "Hi Bo, quick text" in task.description

    # the transient failure waits its backoff, is retried, and is sent exactly once
    assert tick(seconds=30) == {}
    assert tick(minutes=5) == {"sms_sent": 1}
    assert [r["form"]["To"] for r in FakeTwilio.requests if r["status"] == 201] == [ok.phone, flaky.phone]
    assert tick(minutes=5) == {}
    with tenant_session(app.state.session_factory, tenant.organization_id) as session:
        runs = session.scalars(select(CadenceStepRun.status).join(
            CadenceEnrollment, CadenceEnrollment.id == CadenceStepRun.enrollment_id).where(
            CadenceEnrollment.prospect_id == flaky.id)).all()
        assert list(runs) == ["sms_sent"]
    # the next step (a task) comes a day later for all three
    assert tick(days=1, minutes=5) == {"task_created": 3}

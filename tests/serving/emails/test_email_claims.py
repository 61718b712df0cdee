"""Delivery claims: an email a dead worker was sending is settled by asking the provider, never
blindly sent again; what no provider can answer waits for a person (or is resent, if the
organization says so)."""

from __future__ import annotations

import socket
from datetime import timedelta

from aiosmtpd.controller import Controller
from sqlalchemy import select, text

from serving.core.clock import utcnow
from serving.core.db import tenant_session
from serving.emails import runner
from serving.emails.delivery.outbox import OutboxBackend
from serving.emails.delivery.sendgrid import SendGridBackend
from serving.emails.delivery.smtp import SmtpBackend
from serving.emails.models import Email
from tests.conftest import make_settings
from tests.fake_sendgrid import FakeSendGrid

GRACE = timedelta(seconds=31)  # past the default EMAIL_CLAIM_GRACE_SECONDS (30)


def _queue(client, tenant, make_prospect) -> str:
    prospect = make_prospect()
    response = client.post(
        "/api/v1/emails/send",
        json={"to": [{"email": prospect.email}], "subject": "Hi", "text": "Hello", "prospectId": str(prospect.id)},
        headers=tenant.user.headers,
    )
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _claim(app, settings, tenant, email_id, now):
    """What a worker commits before it calls the provider; the worker then dies (nothing more)."""
    with tenant_session(app.state.session_factory, tenant.organization_id) as session:
        email = session.get(Email, email_id, with_for_update=True)
        return runner.claim(db_session=session, email=email, settings=settings, now=now)


def _row(app, tenant, email_id) -> Email:
    with tenant_session(app.state.session_factory, tenant.organization_id) as session:
        email = session.get(Email, email_id)
        session.expunge(email)
        return email


def _deliver(app, settings, tenant, backend, now):
    return runner.deliver_due(
        factory=app.state.session_factory,
        settings=settings,
        organization_id=tenant.organization_id,
        backend=backend,
        now=now,
    )


class _Sink:
    def __init__(self) -> None:
        self.rcpt: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        self.rcpt.extend(envelope.rcpt_tos)
        return "250 OK"


def _smtp():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = _Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, sink, port


def test_smtp_claim_of_a_dead_worker_becomes_unknown_not_a_second_email(
    client, app, database, state_dir, tenant, make_prospect, clock
):
    controller, sink, port = _smtp()
    try:
        settings = make_settings(database, state_dir, SMTP_URL=f"smtp://127.0.0.1:{port}")
        email_id = _queue(client, tenant, make_prospect)
        message = _claim(app, settings, tenant, email_id, clock.now)
        claimed = _row(app, tenant, email_id)
        assert (claimed.status, claimed.attempt_id, claimed.attempts) == ("sending", message.attempt_id, 1)

        # inside the grace period the claim may still be about to send: it is left alone
        assert _deliver(app, settings, tenant, SmtpBackend(settings), clock.now + timedelta(seconds=5)) == {}
        assert _row(app, tenant, email_id).status == "sending"

        outcome = _deliver(app, settings, tenant, SmtpBackend(settings), clock.now + GRACE)
        assert outcome == {"unknown": 1}
        body = client.get(f"/api/v1/emails/{email_id}", headers=tenant.viewer.headers).json()
        assert body["status"] == "unknown"
        assert str(message.attempt_id) in body["statusReason"]
        assert "cannot be asked" in body["statusReason"]
        assert _deliver(app, settings, tenant, SmtpBackend(settings), clock.now + 2 * GRACE) == {}
        assert sink.rcpt == []  # nothing was sent again

        # a person decides: send it again
        resolved = client.post(
            f"/api/v1/emails/{email_id}/resolve", json={"outcome": "resend"}, headers=tenant.user.headers
        )
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["status"] == "queued"
        assert _deliver(app, settings, tenant, SmtpBackend(settings), utcnow()) == {"sent": 1}
        assert len(sink.rcpt) == 1
        again = client.post(
            f"/api/v1/emails/{email_id}/resolve", json={"outcome": "sent"}, headers=tenant.user.headers
        )
        assert again.status_code == 422
        assert again.json()["error"]["code"] == "INVALID_STATE"
        assert again.json()["error"]["details"] == {"status": "sent"}
    finally:
        controller.stop()


def test_a_person_confirms_an_unknown_email_as_sent(client, app, settings, tenant, make_prospect, clock):
    email_id = _queue(client, tenant, make_prospect)
    _claim(app, settings, tenant, email_id, clock.now)
    smtp_settings = settings.model_copy(update={"smtp_url": "smtp://127.0.0.1:1"})  # never contacted
    assert _deliver(app, smtp_settings, tenant, SmtpBackend(smtp_settings), clock.now + GRACE) == {"unknown": 1}
    resolved = client.post(
        f"/api/v1/emails/{email_id}/resolve", json={"outcome": "sent"}, headers=tenant.user.headers
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert body["status"] == "sent" and "confirmed as sent by a person" in body["statusReason"]
    assert body["sentAt"] is not None
    invalid = client.post(
        f"/api/v1/emails/{email_id}/resolve", json={"outcome": "maybe"}, headers=tenant.user.headers
    )
    assert invalid.status_code == 422 and invalid.json()["success"] is False


def test_resend_setting_sends_an_unconfirmed_email_again_once(
    client, app, database, state_dir, tenant, make_prospect, clock, owner_session
):
    controller, sink, port = _smtp()
    try:
        settings = make_settings(database, state_dir, SMTP_URL=f"smtp://127.0.0.1:{port}")
        owner_session.execute(
            text("update app.organizations set settings = settings || '{\"unconfirmedSends\": \"resend\"}'"
                 " where id = :id"),
            {"id": tenant.organization_id},
        )
        owner_session.commit()
        email_id = _queue(client, tenant, make_prospect)
        _claim(app, settings, tenant, email_id, clock.now)
        outcome = _deliver(app, settings, tenant, SmtpBackend(settings), clock.now + GRACE)
        assert outcome == {"requeued": 1, "sent": 1}
        row = _row(app, tenant, email_id)
        assert (row.status, row.attempts) == ("sent", 2)
        assert len(sink.rcpt) == 1
    finally:
        controller.stop()


def test_sendgrid_send_found_in_the_activity_feed_is_recorded_not_resent(
    client, app, database, state_dir, tenant, make_prospect, clock
):
    with FakeSendGrid() as sendgrid:
        settings = make_settings(
            database, state_dir, SENDGRID_API_KEY="SG.k", SENDGRID_API_HOST=sendgrid.url
        )
        backend = SendGridBackend(settings)
        email_id = _queue(client, tenant, make_prospect)
        message = _claim(app, settings, tenant, email_id, clock.now)
        backend.deliver(message)  # SendGrid took it; the worker died before recording the answer
        sent = sendgrid.sends[0]["personalizations"][0]["custom_args"]
        assert sent["revorc_attempt_id"] == str(message.attempt_id)

        outcome = _deliver(app, settings, tenant, backend, clock.now + GRACE)
        assert outcome == {"recovered_sent": 1}
        assert sendgrid.activity_queries == [f"unique_args['revorc_attempt_id']=\"{message.attempt_id}\""]
        row = _row(app, tenant, email_id)
        assert (row.status, row.sendgrid_message_id) == ("sent", "fake1")
        assert sendgrid.calls_per_email() == {email_id: 1}


def test_sendgrid_send_missing_from_the_feed_is_resent_only_after_the_feed_lag(
    client, app, database, state_dir, tenant, make_prospect, clock
):
    with FakeSendGrid() as sendgrid:
        settings = make_settings(
            database, state_dir, SENDGRID_API_KEY="SG.k", SENDGRID_API_HOST=sendgrid.url,
            SENDGRID_ACTIVITY_LAG_SECONDS=600,
        )
        backend = SendGridBackend(settings)
        email_id = _queue(client, tenant, make_prospect)
        _claim(app, settings, tenant, email_id, clock.now)  # died before calling SendGrid
        assert _deliver(app, settings, tenant, backend, clock.now + GRACE) == {"unconfirmed_pending": 1}
        assert _row(app, tenant, email_id).status == "sending"
        with tenant_session(app.state.session_factory, tenant.organization_id) as session:
            recheck = session.execute(
                text("select scheduled_at from procrastinate.procrastinate_jobs where queueing_lock = :lock"
                     " and status = 'todo'"),
                {"lock": f"recheck:{tenant.organization_id}"},
            ).scalar_one()
        assert recheck == clock.now + GRACE + runner.PENDING_RECHECK
        outcome = _deliver(app, settings, tenant, backend, clock.now + timedelta(seconds=601))
        assert outcome == {"requeued": 1, "sent": 1}
        assert sendgrid.calls_per_email() == {email_id: 1}


def test_sendgrid_without_email_activity_access_leaves_it_to_a_person(
    client, app, database, state_dir, tenant, make_prospect, clock
):
    with FakeSendGrid(activity_api=False) as sendgrid:
        settings = make_settings(database, state_dir, SENDGRID_API_KEY="SG.k", SENDGRID_API_HOST=sendgrid.url)
        email_id = _queue(client, tenant, make_prospect)
        _claim(app, settings, tenant, email_id, clock.now)
        assert _deliver(app, settings, tenant, SendGridBackend(settings), clock.now + GRACE) == {"unknown": 1}
        row = _row(app, tenant, email_id)
        assert row.status == "unknown" and "Email Activity API not available (403)" in row.status_reason
        assert sendgrid.sends == []


def test_a_claim_whose_worker_is_alive_is_not_touched_and_a_settled_claim_is_not_sent(
    client, app, settings, tenant, make_prospect, clock
):
    backend = OutboxBackend(settings.outbox_dir)
    email_id = _queue(client, tenant, make_prospect)
    message = _claim(app, settings, tenant, email_id, clock.now)
    # the worker is in the provider call: it holds the row lock
    with tenant_session(app.state.session_factory, tenant.organization_id) as sending:
        sending.scalars(select(Email).where(Email.id == email_id).with_for_update()).one()
        assert _deliver(app, settings, tenant, backend, clock.now + GRACE) == {}
    # a worker that stalls past the grace period finds its claim settled (not in the outbox →
    # queued again) and does not send under it
    outcome = runner.recover_claims(
        factory=app.state.session_factory,
        settings=settings,
        organization_id=tenant.organization_id,
        backend=backend,
        now=clock.now + GRACE,
    )[0]
    assert outcome == {"requeued": 1}
    with tenant_session(app.state.session_factory, tenant.organization_id) as session:
        late = runner.send_claimed(db_session=session, message=message, backend=backend, now=clock.now + GRACE)
    assert late == "claim_lost"
    assert not (settings.outbox_dir / str(tenant.organization_id) / f"{email_id}.eml").exists()
    assert _row(app, tenant, email_id).status == "queued"

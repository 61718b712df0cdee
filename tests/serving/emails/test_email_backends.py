"""SMTP (a real aiosmtpd server, DKIM-verified) and SendGrid v3 (an HTTP fake validating the schema)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dkim
import jsonschema
import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from serving.core.db import set_tenant
from serving.emails import provider_events, runner
from serving.emails.delivery import PermanentDeliveryError, TransientDeliveryError
from serving.emails.delivery.sendgrid import SendGridBackend
from serving.emails.delivery.smtp import SmtpBackend
from serving.emails.models import Email
from tests.conftest import make_settings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sendgrid"


class Sink:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


@pytest.fixture(scope="module")
def dkim_key() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import base64

    return private, base64.b64encode(public)


def _queue(client, tenant, make_prospect, **extra):
    prospect = make_prospect()
    body = {
        "to": [{"email": prospect.email, "name": "Ada"}],
        "cc": [{"email": "cc@example.com"}],
        "bcc": [{"email": "bcc@example.com"}],
        "subject": "Hi {{firstName}}",
        "html": '<p>Hi <a href="https://example.com/x">x</a></p>',
        "text": "Hi",
        "prospectId": str(prospect.id),
        **extra,
    }
    response = client.post("/api/v1/emails/send", json=body, headers=tenant.user.headers)
    assert response.status_code == 202, response.text
    return response.json(), prospect


def test_smtp_backend_delivers_dkim_signed_mail(
    client, app, database, state_dir, tenant, make_prospect, smtp_server, dkim_key
):
    sink, port = smtp_server
    private, public = dkim_key
    settings = make_settings(
        database,
        state_dir,
        SMTP_URL=f"smtp://127.0.0.1:{port}",
        DKIM_SELECTOR="rv",
        DKIM_DOMAIN="example.org",
        DKIM_PRIVATE_KEY=private.decode(),
        EMAIL_FROM="sales@example.org",
    )
    sent, prospect = _queue(client, tenant, make_prospect)
    outcome = runner.deliver_due(
        factory=app.state.session_factory,
        settings=settings,
        organization_id=tenant.organization_id,
        backend=SmtpBackend(settings),
    )
    assert outcome.get("sent", 0) >= 1
    _mail_from, rcpt, data = next(m for m in sink.messages if prospect.email in m[1])
    assert sorted(rcpt) == sorted([prospect.email, "cc@example.com", "bcc@example.com"])
    assert b"bcc@example.com" not in data.split(b"\r\n\r\n", 1)[0]  # Bcc only in the envelope
    assert f"Message-ID: <{sent['messageId']}>".encode() in data
    assert data.startswith(b"DKIM-Signature:")
    record = b"v=DKIM1; k=rsa; p=" + public
    assert dkim.verify(
        data, dnsfunc=lambda name, timeout=5: record if name == b"rv._domainkey.example.org." else None
    )


def test_smtp_errors_are_classified(database, state_dir, smtp_server):
    settings = make_settings(database, state_dir, SMTP_URL="smtp://127.0.0.1:1")
    from serving.emails.delivery import Prepared

    message = Prepared(
        email_id=__import__("uuid").uuid4(),
        organization_id=__import__("uuid").uuid4(),
        message_id="m@x",
        from_email="a@x.test",
        from_name=None,
        to=[{"email": "b@x.test"}],
        cc=[],
        bcc=[],
        reply_to=None,
        subject="s",
        html=None,
        text="t",
        date=datetime.now(UTC),
    )
    with pytest.raises(TransientDeliveryError):
        SmtpBackend(settings, timeout=2).deliver(message)


class FakeSendGrid(BaseHTTPRequestHandler):
    schema = json.loads((FIXTURES / "mail_send_request.schema.json").read_text())
    requests: list[dict] = []
    status = 202

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        try:
            jsonschema.validate(body, self.schema)
        except jsonschema.ValidationError as exc:
            self.send_response(400)
            self.end_headers()
            self.wfile.write(json.dumps({"errors": [{"message": exc.message}]}).encode())
            return
        FakeSendGrid.requests.append({"path": self.path, "auth": self.headers["Authorization"], "body": body})
        self.send_response(self.status)
        if self.status == 202:
            self.send_header("X-Message-Id", f"sgmsg{len(self.requests)}")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def sendgrid_fake():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSendGrid)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeSendGrid.requests = []
    FakeSendGrid.status = 202
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_sendgrid_backend_sends_schema_valid_requests(
    client, app, database, state_dir, tenant, make_prospect, sendgrid_fake
):
    settings = make_settings(
        database,
        state_dir,
        SENDGRID_API_KEY="SG.test-key",
        SENDGRID_API_HOST=sendgrid_fake,
        SENDGRID_VERIFIED_SENDER="noreply@yourdomain.com",
    )
    sent, prospect = _queue(client, tenant, make_prospect)
    runner.deliver_due(
        factory=app.state.session_factory,
        settings=settings,
        organization_id=tenant.organization_id,
        backend=SendGridBackend(settings),
    )
    request = next(
        r
        for r in FakeSendGrid.requests
        if r["body"]["personalizations"][0]["custom_args"]["revorc_email_id"] == sent["id"]
    )
    assert request["path"] == "/v3/mail/send"
    assert request["auth"] == "Bearer SG.test-key"
    body = request["body"]
    assert body["from"]["email"] == "noreply@yourdomain.com"
    assert body["personalizations"][0]["bcc"] == [{"email": "bcc@example.com"}]
    assert body["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    with app.state.session_factory() as session:
        set_tenant(session, tenant.organization_id)
        email = session.scalars(select(Email).where(Email.id == sent["id"])).one()
        assert (email.status, email.provider) == ("sent", "sendgrid")
        provider_id = email.sendgrid_message_id
    assert provider_id.startswith("sgmsg")
    # a SendGrid event found by sg_message_id alone (no custom args) rolls onto the row
    with app.state.session_factory() as session, session.begin():
        applied = provider_events.apply_email_event(
            db_session=session,
            event={
                "event": "delivered",
                "email": prospect.email,
                "timestamp": 1700000000,
                "sg_event_id": f"dlv-{sent['id']}",
                "sg_message_id": f"{provider_id}.filter0001.1.0",
            },
        )
        assert applied is not None and applied.status == "delivered"


def test_sendgrid_errors_are_classified(database, state_dir, sendgrid_fake):
    from serving.emails.delivery import Prepared

    settings = make_settings(database, state_dir, SENDGRID_API_KEY="SG.k", SENDGRID_API_HOST=sendgrid_fake)
    message = Prepared(
        email_id=__import__("uuid").uuid4(),
        organization_id=__import__("uuid").uuid4(),
        message_id="m@x",
        from_email="a@x.test",
        from_name=None,
        to=[{"email": "b@x.test"}],
        cc=[],
        bcc=[],
        reply_to=None,
        subject="s",
        html=None,
        text="t",
        date=datetime.now(UTC),
    )
    FakeSendGrid.status = 503
    with pytest.raises(TransientDeliveryError):
        SendGridBackend(settings).deliver(message)
    FakeSendGrid.status = 400
    with pytest.raises(PermanentDeliveryError):
        SendGridBackend(settings).deliver(message)

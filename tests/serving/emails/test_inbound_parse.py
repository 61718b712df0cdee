"""SendGrid Inbound Parse posts (multipart/form-data, default and "send raw" modes) matched to the sent email.

The field names are SendGrid's documented ones: headers, dkim, to, from, text, html, sender_ip, spam_report,
envelope, attachments, attachment-info, subject, spam_score, charsets, SPF, and `email` in raw mode.
"""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from serving.activities.models import Activity
from serving.main import create_app
from tests.conftest import make_settings


def _sent_email(client, tenant, make_prospect, deliver) -> tuple[dict, object]:
    prospect = make_prospect()
    sent = client.post("/api/v1/emails/send", headers=tenant.user.headers, json={
        "to": [{"email": prospect.email}], "subject": "Pricing for {{company}}", "text": "Hi {{firstName}}",
        "prospectId": str(prospect.id)})
    assert sent.status_code == 202, sent.text
    deliver(tenant)
    email = client.get(f"/api/v1/emails/{sent.json()['id']}", headers=tenant.user.headers).json()
    assert email["status"] == "sent" and email["messageId"]
    return email, prospect


def _fields(prospect, *, headers: str, subject: str = "Re: Pricing") -> dict[str, str]:
    return {
        "headers": headers,
        "dkim": "{@example.com : pass}",
        "to": "sales@yourdomain.com",
        "from": f"Ada Lovelace <{prospect.email}>",
        "text": "Sounds good, can we talk Thursday?\n\nOn Mon, you wrote:\n> Hi Ada",
        "html": "<p>Sounds good, can we talk Thursday?</p>",
        "sender_ip": "209.85.220.41",
        "spam_report": "Spam detection software, running on the system ... Content analysis details: (0.0 points)",
        "envelope": json.dumps({"to": ["sales@yourdomain.com"], "from": prospect.email}),
        "attachments": "1",
        "attachment-info": json.dumps({"attachment1": {"filename": "notes.txt", "name": "notes.txt",
                                                       "type": "text/plain"}}),
        "subject": subject,
        "spam_score": "0.0",
        "charsets": json.dumps({"to": "UTF-8", "html": "UTF-8", "subject": "UTF-8", "from": "UTF-8",
                                "text": "UTF-8"}),
        "SPF": "pass",
    }


def _reply_activities(tenant, prospect) -> int:
    tenant.deliver_events()  # the timeline entry is the reaction to email.replied
    with tenant.session() as session:
        return session.scalar(select(func.count()).select_from(Activity).where(
            Activity.prospect_id == prospect.id, Activity.type == "email_received"))


def test_inbound_parse_multipart_matches_by_in_reply_to_once(client, tenant, make_prospect, deliver):
    email, prospect = _sent_email(client, tenant, make_prospect, deliver)
    headers = (f"Received: by mx0047p1mdw1.sendgrid.net with SMTP id 6WCVv7KAWn Wed, 27 Jul 2016 20:53:06 +0000\n"
               f"From: Ada Lovelace <{prospect.email}>\n"
               f"Message-ID: <CAHNRqW1=reply-1@mail.gmail.com>\n"
               f"In-Reply-To: <{email['messageId']}>\n"
               f"References: <older@elsewhere.test>\n <{email['messageId']}>\n"  # folded header
               f"Subject: Re: Pricing\nTo: sales@yourdomain.com\n")
    post = {"data": _fields(prospect, headers=headers),
            "files": {"attachment1": ("notes.txt", b"see you then", "text/plain")}}
    first = client.post("/api/v1/inbound/sendgrid", **post)
    assert first.status_code == 200, first.text
    assert first.json() == {"matched": True, "emailId": email["id"]}
    assert client.get(f"/api/v1/emails/{email['id']}", headers=tenant.user.headers).json()["replied"] is True
    # SendGrid retries a post it thinks failed: the reply is recorded once
    assert client.post("/api/v1/inbound/sendgrid", **post).json()["matched"] is True
    assert _reply_activities(tenant, prospect) == 1
    events = client.get(f"/api/v1/emails/{email['id']}/events", headers=tenant.user.headers).json()
    assert [e["source"] for e in events["data"] if e["event"] == "reply"] == ["inbound"]


def test_inbound_parse_raw_mode_matches_by_references(client, tenant, make_prospect, deliver):
    email, prospect = _sent_email(client, tenant, make_prospect, deliver)
    raw = (f"From: {prospect.email}\r\nTo: sales@yourdomain.com\r\nSubject: Re: Pricing\r\n"
           f"Message-ID: <raw-reply-2@mail.example.com>\r\n"
           f"References: <{email['messageId']}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n"
           f"Yes please.\r\n")
    fields = {k: v for k, v in _fields(prospect, headers="").items() if k not in ("headers", "text", "html")}
    response = client.post("/api/v1/inbound/sendgrid", data={**fields, "email": raw},
                           files={"attachment1": ("notes.txt", b"x", "text/plain")})
    assert response.json() == {"matched": True, "emailId": email["id"]}
    assert _reply_activities(tenant, prospect) == 1


def test_inbound_parse_unmatched_is_acknowledged_and_changes_nothing(client, tenant, make_prospect, deliver):
    email, prospect = _sent_email(client, tenant, make_prospect, deliver)
    headers = "Message-ID: <x@y.test>\nIn-Reply-To: <not-ours@elsewhere.test>\nSubject: hello\n"
    response = client.post("/api/v1/inbound/sendgrid", data=_fields(prospect, headers=headers),
                           files={"attachment1": ("a.txt", b"x", "text/plain")})
    assert response.status_code == 200 and response.json() == {"matched": False, "emailId": None}
    assert client.get(f"/api/v1/emails/{email['id']}", headers=tenant.user.headers).json()["replied"] is False


def test_inbound_parse_token_is_required_when_configured(database, state_dir, tenant, make_prospect, deliver,
                                                        client):
    email, prospect = _sent_email(client, tenant, make_prospect, deliver)
    secured = create_app(make_settings(database, state_dir, INBOUND_PARSE_SECRET="parse-secret-123"))
    headers = f"Message-ID: <tok@y.test>\nIn-Reply-To: <{email['messageId']}>\n"
    with TestClient(secured) as other:
        for token in (None, "wrong"):
            refused = other.post("/api/v1/inbound/sendgrid", params={"token": token} if token else None,
                                 data=_fields(prospect, headers=headers),
                                 files={"attachment1": ("a.txt", b"x", "text/plain")})
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "INVALID_TOKEN"
        assert _reply_activities(tenant, prospect) == 0
        accepted = other.post("/api/v1/inbound/sendgrid", params={"token": "parse-secret-123"},
                              data=_fields(prospect, headers=headers),
                              files={"attachment1": ("a.txt", b"x", "text/plain")})
        assert accepted.json()["matched"] is True
    assert _reply_activities(tenant, prospect) == 1

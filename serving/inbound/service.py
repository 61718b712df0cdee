"""Reply detection: match an inbound message to the email it answers by Message-ID headers."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from email import policy
from email.parser import Parser

from sqlalchemy.orm import Session

from serving.core.db import set_tenant
from serving.emails import engagement, provider_events
from serving.emails.models import Email

_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")


def message_ids(*values: str | None) -> list[str]:
    """Ids from In-Reply-To / References values (angle-bracketed; bare ids accepted too)."""
    found: list[str] = []
    for value in values:
        if not value:
            continue
        ids = _MESSAGE_ID.findall(value) or [part for part in value.split() if "@" in part]
        for item in ids:
            if item not in found:
                found.append(item)
    return found


def headers_from_block(block: str | None) -> dict[str, str]:
    if not block:
        return {}
    parsed = Parser(policy=policy.default).parsestr(block, headersonly=True)
    return {k.lower(): str(v) for k, v in parsed.items()}


def process_reply(
    *,
    db_session: Session,
    in_reply_to: str | None,
    references: str | None,
    sender: str | None,
    subject: str | None,
    text: str | None,
    own_message_id: str | None,
    received_at: datetime | None = None,
) -> Email | None:
    """Mark the matched email replied (and pause the prospect's cadences); None if nothing matches."""
    ids = message_ids(in_reply_to, references)
    if not ids:
        return None
    located = provider_events.locate_email(db_session=db_session, message_ids=ids)
    if located is None:
        return None
    email_id, organization_id = located
    set_tenant(db_session, organization_id)
    email = db_session.get(Email, email_id, with_for_update=True)
    if email is None:
        return None
    key_source = own_message_id or f"{sender}|{subject}|{in_reply_to}|{(text or '')[:200]}"
    key = "inbound:" + hashlib.sha256(key_source.encode()).hexdigest()[:40]
    engagement.mark_replied(
        db_session=db_session,
        email=email,
        occurred_at=received_at or datetime.now(UTC),
        source="inbound",
        event_key=key,
        details={"from": sender, "subject": subject, "snippet": (text or "")[:500], "inReplyTo": in_reply_to},
    )
    return email


def matched_id(email: Email | None) -> uuid.UUID | None:
    return email.id if email is not None else None

"""/inbound: SendGrid Inbound Parse (multipart) and a generic JSON form for replies.

Providers retry on non-2xx, so an unmatched message is answered 200 with `matched: false`.
When INBOUND_PARSE_SECRET is set, the URL must carry `?token=<secret>`.
"""

from __future__ import annotations

import hmac
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import Field

from serving.core.deps import AppSettings, DbSession
from serving.core.errors import Unauthorized, ValidationFailed
from serving.core.schemas import ApiModel, InputModel
from serving.inbound import service

router = APIRouter()


class InboundJson(InputModel):
    sender: str | None = Field(default=None, alias="from", max_length=1000)
    to: str | None = Field(default=None, max_length=5000)
    subject: str | None = Field(default=None, max_length=5000)
    text: str | None = Field(default=None, max_length=1_000_000)
    message_id: str | None = Field(default=None, max_length=1000)
    in_reply_to: str | None = Field(default=None, max_length=5000)
    references: str | None = Field(default=None, max_length=20_000)


class InboundResult(ApiModel):
    matched: bool
    email_id: uuid.UUID | None = None


def _check_token(settings, token: str | None) -> None:
    secret = settings.inbound_parse_secret
    if secret is None:
        return
    if not token or not hmac.compare_digest(token.encode(), secret.get_secret_value().encode()):
        raise Unauthorized("invalid inbound token", code="INVALID_TOKEN")


@router.post("/sendgrid", response_model=InboundResult, summary="SendGrid Inbound Parse webhook (multipart)")
async def sendgrid_inbound(
    request: Request,
    settings: AppSettings,
    db: DbSession,
    token: Annotated[str | None, Query(max_length=200)] = None,
):
    _check_token(settings, token)
    form = await request.form()
    headers = service.headers_from_block(str(form.get("headers") or ""))
    if not headers and form.get("email"):
        raw = str(form.get("email"))
        headers = service.headers_from_block(raw.split("\r\n\r\n", 1)[0].split("\n\n", 1)[0])
    email = service.process_reply(
        db_session=db,
        in_reply_to=headers.get("in-reply-to"),
        references=headers.get("references"),
        sender=str(form.get("from") or headers.get("from") or ""),
        subject=str(form.get("subject") or ""),
        text=str(form.get("text") or ""),
        own_message_id=headers.get("message-id"),
    )
    return InboundResult(matched=email is not None, email_id=service.matched_id(email))


@router.post("/email", response_model=InboundResult, summary="Generic inbound email (JSON)")
def json_inbound(
    body: InboundJson,
    settings: AppSettings,
    db: DbSession,
    token: Annotated[str | None, Query(max_length=200)] = None,
):
    _check_token(settings, token)
    if not (body.in_reply_to or body.references):
        raise ValidationFailed(
            "inReplyTo or references is required to match a reply", details={"field": "inReplyTo"}
        )
    email = service.process_reply(
        db_session=db,
        in_reply_to=body.in_reply_to,
        references=body.references,
        sender=body.sender,
        subject=body.subject,
        text=body.text,
        own_message_id=body.message_id,
    )
    return InboundResult(matched=email is not None, email_id=service.matched_id(email))

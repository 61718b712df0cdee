"""Request and response bodies for templates, sends, events, mailboxes, bulk jobs and deliverability."""

from __future__ import annotations

import uuid
from datetime import date as date_type
from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from serving.core.schemas import ApiModel, Email, InputModel, Name
from serving.emails.address_syntax import BulkEmail


class RecipientIn(InputModel):
    email: Email
    name: str | None = Field(default=None, max_length=255)


_NON_BLANK = {"type": "string", "pattern": r"\S"}


class TemplateIn(InputModel):
    # The OpenAPI document states the rule of `_body` too, so a client (or a fuzzer) knows a valid template.
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["html"], "properties": {"html": _NON_BLANK}},
        {"required": ["text"], "properties": {"text": _NON_BLANK}},
    ]})

    name: Name
    category: str | None = Field(default=None, max_length=100)
    subject: str = Field(min_length=1, max_length=998)
    html: str | None = Field(default=None, max_length=500_000)
    text: str | None = Field(default=None, max_length=200_000)
    variables: list[str] = Field(default_factory=list, max_length=100)
    defaults: dict[str, str] = Field(default_factory=dict)
    is_active: bool = True

    @model_validator(mode="after")
    def _body(self) -> TemplateIn:
        if not self.html and not self.text:
            raise ValueError("a template needs an html or a text body")
        return self


class TemplateUpdate(InputModel):
    name: Name | None = None
    category: str | None = Field(default=None, max_length=100)
    subject: str | None = Field(default=None, min_length=1, max_length=998)
    html: str | None = Field(default=None, max_length=500_000)
    text: str | None = Field(default=None, max_length=200_000)
    variables: list[str] | None = Field(default=None, max_length=100)
    defaults: dict[str, str] | None = None
    is_active: bool | None = None


class TemplateOut(ApiModel):
    id: uuid.UUID
    name: str
    category: str | None
    subject: str
    html: str | None
    text: str | None
    variables: list[str]
    defaults: dict[str, Any]
    is_active: bool
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class PreviewIn(InputModel):
    prospect_id: uuid.UUID | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    subject: str | None = None
    html: str | None = None
    text: str | None = None


class PreviewOut(ApiModel):
    subject: str
    html: str | None
    text: str | None
    variables_used: list[str]


class SendEmailIn(InputModel):
    to: list[RecipientIn] = Field(min_length=1, max_length=50)
    cc: list[RecipientIn] = Field(default_factory=list, max_length=50)
    bcc: list[RecipientIn] = Field(default_factory=list, max_length=50)
    template_id: uuid.UUID | None = None
    subject: str | None = Field(default=None, max_length=998)
    html: str | None = Field(default=None, max_length=500_000)
    text: str | None = Field(default=None, max_length=200_000)
    content: str | None = Field(default=None, max_length=500_000, description="alias for html")
    variables: dict[str, Any] = Field(default_factory=dict)
    prospect_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = None
    mailbox_id: uuid.UUID | None = None
    reply_to: Email | None = None
    track_opens: bool = True
    track_clicks: bool = True
    send_at: datetime | None = None

    @model_validator(mode="after")
    def _content(self) -> SendEmailIn:
        if self.content and not self.html:
            self.html = self.content
        if self.template_id is None and (not self.subject or not (self.html or self.text)):
            raise ValueError("send a templateId, or a subject with html or text content")
        if self.send_at is not None and self.send_at.tzinfo is None:
            raise ValueError("sendAt needs a time zone offset")
        return self


class EmailOut(ApiModel):
    id: uuid.UUID
    status: str
    status_reason: str | None
    from_email: str
    from_name: str | None
    reply_to: str | None
    to: list[dict]
    cc: list[dict]
    bcc: list[dict]
    subject: str
    html: str | None
    text: str | None
    template_id: uuid.UUID | None
    prospect_id: uuid.UUID | None
    deal_id: uuid.UUID | None
    campaign_id: uuid.UUID | None
    cadence_id: uuid.UUID | None
    enrollment_id: uuid.UUID | None
    step_id: uuid.UUID | None
    variant_id: uuid.UUID | None
    bulk_job_id: uuid.UUID | None
    mailbox_id: uuid.UUID | None
    track_opens: bool
    track_clicks: bool
    opened: bool
    clicked: bool
    bounced: bool
    replied: bool
    unsubscribed: bool
    open_count: int
    click_count: int
    first_opened_at: datetime | None
    last_opened_at: datetime | None
    first_clicked_at: datetime | None
    last_clicked_at: datetime | None
    replied_at: datetime | None
    message_id: str
    sendgrid_message_id: str | None
    provider: str | None
    attempts: int
    last_error: str | None
    send_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class ResolveEmailIn(InputModel):
    """A person's verdict on an email whose delivery could not be confirmed (status `unknown`)."""

    outcome: Literal["sent", "resend"]


class EmailEventOut(ApiModel):
    id: uuid.UUID
    email_id: uuid.UUID
    event: str
    recipient: str | None
    url: str | None
    source: str
    details: dict
    occurred_at: datetime


class OutboxEntryOut(ApiModel):
    email_id: uuid.UUID
    file: str
    size: int
    written_at: datetime
    subject: str | None
    to: str | None


class MailboxIn(InputModel):
    email: Email
    display_name: str | None = Field(default=None, max_length=255)
    user_id: uuid.UUID | None = None
    daily_cap: int = Field(default=200, ge=1, le=100_000)
    warmup_enabled: bool = False
    warmup_started_on: datetime | None = None
    warmup_start_cap: int = Field(default=20, ge=1, le=100_000)
    warmup_daily_increase: int = Field(default=10, ge=0, le=100_000)
    is_active: bool = True


class WarmupDay(ApiModel):
    date: date_type
    cap: int


class MailboxOut(ApiModel):
    id: uuid.UUID
    email: str
    display_name: str | None
    user_id: uuid.UUID | None
    daily_cap: int
    warmup_enabled: bool
    warmup_started_on: datetime | None
    warmup_start_cap: int
    warmup_daily_increase: int
    is_active: bool
    todays_cap: int | None = None
    sent_today: int | None = None
    warmup_schedule: list[WarmupDay] = Field(
        default=[], description="while warming up: the cap of each of the next 30 days, until it reaches dailyCap")


class SuppressionIn(InputModel):
    email: Email
    reason: str = Field(default="manual", pattern="^(manual|invalid)$")
    details: str | None = Field(default=None, max_length=2000)


class SuppressionOut(ApiModel):
    email: str
    suppressed: bool
    reason: str | None


class BulkRecipientIn(InputModel):
    # Same verdicts as `Email`, without email-validator's ~30 µs for each of up to 100k addresses.
    email: BulkEmail
    name: str | None = Field(default=None, max_length=255)
    prospect_id: uuid.UUID | None = None
    variables: dict[str, Any] = Field(default_factory=dict)


class BulkJobIn(InputModel):
    name: Name
    template_id: uuid.UUID | None = None
    subject: str | None = Field(default=None, max_length=998)
    html: str | None = Field(default=None, max_length=500_000)
    text: str | None = Field(default=None, max_length=200_000)
    variables: dict[str, Any] = Field(default_factory=dict)
    recipients: list[BulkRecipientIn] = Field(default_factory=list, max_length=100_000)
    prospect_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100_000)
    campaign_id: uuid.UUID | None = None
    mailbox_id: uuid.UUID | None = None
    rate_per_minute: int = Field(default=600, ge=1, le=100_000)
    track_opens: bool = True
    track_clicks: bool = True
    send_at: datetime | None = None

    @model_validator(mode="after")
    def _check(self) -> BulkJobIn:
        if self.template_id is None and (not self.subject or not (self.html or self.text)):
            raise ValueError("send a templateId, or a subject with html or text content")
        if not self.recipients and not self.prospect_ids:
            raise ValueError("a bulk job needs recipients or prospectIds")
        return self


class BulkJobOut(ApiModel):
    id: uuid.UUID
    name: str
    status: str
    template_id: uuid.UUID | None
    campaign_id: uuid.UUID | None
    mailbox_id: uuid.UUID | None
    rate_per_minute: int
    total: int
    send_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    progress: dict[str, int] = Field(default_factory=dict)


class BulkRecipientOut(ApiModel):
    id: uuid.UUID
    position: int
    email: str
    name: str | None
    prospect_id: uuid.UUID | None
    status: str
    email_id: uuid.UUID | None
    email_status: str | None = None
    reason: str | None


class DnsCheckOut(ApiModel):
    record: str
    name: str
    status: str
    found: list[str]
    message: str


class DeliverabilityOut(ApiModel):
    domain: str
    ready: bool
    checks: list[DnsCheckOut]

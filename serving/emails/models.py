"""Email records, templates, tracking events, suppression lists, mailboxes and bulk jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from serving.core.db import Base, IdMixin, TimestampMixin
from serving.core.enums import check_in


class EmailStatus(StrEnum):
    queued = "queued"  # recorded, waiting for its send time / a worker
    sending = "sending"  # claimed (committed) by a worker that is about to call, or is calling, the provider
    sent = "sent"  # accepted by the backend
    delivered = "delivered"  # provider confirmed delivery
    bounced = "bounced"
    failed = "failed"  # gave up after retries
    suppressed = "suppressed"  # every recipient unsubscribed / blacklisted at send time
    cancelled = "cancelled"
    # its worker died mid-send and the provider cannot tell whether it went out: a person decides
    unknown = "unknown"


class TrackingEventType(StrEnum):
    processed = "processed"
    delivered = "delivered"
    open = "open"
    click = "click"
    bounce = "bounce"
    dropped = "dropped"
    deferred = "deferred"
    spamreport = "spamreport"
    unsubscribe = "unsubscribe"
    reply = "reply"


class BlacklistReason(StrEnum):
    hard_bounce = "hard_bounce"
    spam_complaint = "spam_complaint"
    soft_bounce_limit = "soft_bounce_limit"
    invalid = "invalid"
    manual = "manual"


class BounceType(StrEnum):
    hard = "hard"
    soft = "soft"
    spam = "spam"


class BulkJobStatus(StrEnum):
    pending = "pending"
    running = "running"
    paused = "paused"
    completed = "completed"
    cancelled = "cancelled"


class RecipientStatus(StrEnum):
    pending = "pending"
    queued = "queued"
    suppressed = "suppressed"
    skipped = "skipped"


class EmailTemplate(IdMixin, TimestampMixin, Base):
    __tablename__ = "email_templates"
    __table_args__ = (
        UniqueConstraint("organization_id", "name"),
        Index("ix_email_templates_org_created", "organization_id", "created_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    variables: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    defaults: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")


class Mailbox(IdMixin, TimestampMixin, Base):
    """A sending identity with a daily cap and an optional warm-up ramp."""

    __tablename__ = "mailboxes"
    __table_args__ = (
        UniqueConstraint("organization_id", "email"),
        CheckConstraint("daily_cap > 0", name="daily_cap_positive"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    email: Mapped[str] = mapped_column(Text)
    display_name: Mapped[str | None] = mapped_column(Text)
    daily_cap: Mapped[int] = mapped_column(Integer, default=200, server_default="200")
    warmup_enabled: Mapped[bool] = mapped_column(default=False, server_default="false")
    warmup_started_on: Mapped[datetime | None]
    warmup_start_cap: Mapped[int] = mapped_column(Integer, default=20, server_default="20")
    warmup_daily_increase: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")


class Email(IdMixin, TimestampMixin, Base):
    __tablename__ = "emails"
    __table_args__ = (
        check_in("status", EmailStatus, nullable=False),
        # never the same cadence step twice for one enrollment
        UniqueConstraint("enrollment_id", "step_id"),
        Index("ix_emails_org_created", "organization_id", "created_at"),
        Index("ix_emails_org_status", "organization_id", "status"),
        Index("ix_emails_due", "send_at", postgresql_where=text("status = 'queued'")),
        Index("ix_emails_sending", "claimed_at", postgresql_where=text("status = 'sending'")),
        Index("ix_emails_message_id", "message_id", unique=True),
        Index("ix_emails_sendgrid_message_id", "sendgrid_message_id"),
        Index("ix_emails_mailbox_sent", "mailbox_id", "sent_at"),
        Index("ix_emails_bulk_job", "bulk_job_id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    mailbox_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("mailboxes.id", ondelete="SET NULL"))
    from_email: Mapped[str] = mapped_column(Text)
    from_name: Mapped[str | None] = mapped_column(Text)
    reply_to: Mapped[str | None] = mapped_column(Text)
    to: Mapped[list] = mapped_column(JSONB)
    cc: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    bcc: Mapped[list] = mapped_column(JSONB, default=list, server_default="[]")
    subject: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("email_templates.id", ondelete="SET NULL")
    )
    variables: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    status: Mapped[str] = mapped_column(Text, default=EmailStatus.queued, server_default="queued")
    status_reason: Mapped[str | None] = mapped_column(Text)
    track_opens: Mapped[bool] = mapped_column(default=True, server_default="true")
    track_clicks: Mapped[bool] = mapped_column(default=True, server_default="true")
    opened: Mapped[bool] = mapped_column(default=False, server_default="false")
    clicked: Mapped[bool] = mapped_column(default=False, server_default="false")
    bounced: Mapped[bool] = mapped_column(default=False, server_default="false")
    replied: Mapped[bool] = mapped_column(default=False, server_default="false")
    unsubscribed: Mapped[bool] = mapped_column(default=False, server_default="false")
    open_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    click_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    first_opened_at: Mapped[datetime | None]
    last_opened_at: Mapped[datetime | None]
    first_clicked_at: Mapped[datetime | None]
    last_clicked_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]
    message_id: Mapped[str] = mapped_column(Text)
    sendgrid_message_id: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # the current delivery attempt, committed with status `sending` before the provider is called;
    # SendGrid carries it as the `revorc_attempt_id` custom arg, so recovery can look the send up
    attempt_id: Mapped[uuid.UUID | None]
    claimed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    prospect_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("prospects.id", ondelete="SET NULL"), index=True
    )
    deal_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"), index=True)
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    cadence_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cadences.id", ondelete="SET NULL"), index=True
    )
    enrollment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cadence_enrollments.id", ondelete="SET NULL")
    )
    step_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cadence_steps.id", ondelete="SET NULL"))
    variant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cadence_step_variants.id", ondelete="SET NULL")
    )
    bulk_job_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("bulk_email_jobs.id", ondelete="SET NULL")
    )
    send_at: Mapped[datetime] = mapped_column(server_default=func.now())
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]


class EmailTrackingEvent(IdMixin, Base):
    """The API-readable copy of an email's events (raw.email_events is insert-only for the API)."""

    __tablename__ = "email_tracking_events"
    __table_args__ = (
        check_in("event", TrackingEventType, nullable=False),
        Index("ix_email_tracking_events_email", "email_id", "occurred_at"),
        Index("ix_email_tracking_events_org_time", "organization_id", "occurred_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("emails.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(Text)
    event_key: Mapped[str] = mapped_column(Text, unique=True)  # same id as raw.email_events.sg_event_id
    recipient: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    occurred_at: Mapped[datetime]


class EmailUnsubscribe(IdMixin, Base):
    __tablename__ = "email_unsubscribes"
    __table_args__ = (UniqueConstraint("organization_id", "email"),)

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(Text)
    prospect_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("prospects.id", ondelete="SET NULL"))
    email_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("emails.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(Text)  # one_click, link, sendgrid, manual
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class EmailBlacklist(IdMixin, Base):
    __tablename__ = "email_blacklist"
    __table_args__ = (
        UniqueConstraint("organization_id", "email"),
        check_in("reason", BlacklistReason, nullable=False),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class EmailBounce(IdMixin, Base):
    __tablename__ = "email_bounces"
    __table_args__ = (
        check_in("bounce_type", BounceType, nullable=False),
        Index("ix_email_bounces_org_email_time", "organization_id", "email", "occurred_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(Text)
    email_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("emails.id", ondelete="SET NULL"))
    bounce_type: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    status_code: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())


class BulkEmailJob(IdMixin, TimestampMixin, Base):
    __tablename__ = "bulk_email_jobs"
    __table_args__ = (
        check_in("status", BulkJobStatus, nullable=False),
        CheckConstraint("rate_per_minute > 0", name="rate_positive"),
        Index("ix_bulk_email_jobs_org_created", "organization_id", "created_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    mailbox_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("mailboxes.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(Text)
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("email_templates.id", ondelete="SET NULL")
    )
    subject: Mapped[str | None] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    variables: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    campaign_id: Mapped[uuid.UUID | None]
    track_opens: Mapped[bool] = mapped_column(default=True, server_default="true")
    track_clicks: Mapped[bool] = mapped_column(default=True, server_default="true")
    status: Mapped[str] = mapped_column(Text, default=BulkJobStatus.pending, server_default="pending")
    rate_per_minute: Mapped[int] = mapped_column(Integer, default=600, server_default="600")
    total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    send_at: Mapped[datetime] = mapped_column(server_default=func.now())
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class BulkEmailRecipient(IdMixin, Base):
    __tablename__ = "bulk_email_recipients"
    __table_args__ = (
        UniqueConstraint("job_id", "email"),
        check_in("status", RecipientStatus, nullable=False),
        Index(
            "ix_bulk_email_recipients_pending",
            "job_id",
            "position",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bulk_email_jobs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    email: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    prospect_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("prospects.id", ondelete="SET NULL"))
    variables: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    status: Mapped[str] = mapped_column(Text, default=RecipientStatus.pending, server_default="pending")
    email_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("emails.id", ondelete="SET NULL"), unique=True
    )
    reason: Mapped[str | None] = mapped_column(Text)

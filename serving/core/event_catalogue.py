"""The catalogue of domain events: every event the product publishes, its version and payload schema.

One module, read by the publisher (payloads are validated against it), the API docs (`GET /api/v1/event-types`)
and, later, the webhook and notification settings. Names are `noun.past_verb`. A payload change that a consumer
could notice (a field removed, renamed or re-typed) is a new version; adding an optional field is not.
Payloads carry ids and the facts a subscriber needs without reading the row back (the row may have changed since).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Payload(BaseModel):
    """camelCase on the wire, like the API; unknown fields refused so a publisher's typo fails its test."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True,
                              extra="forbid")


class Change(Payload):
    from_: Any = Field(default=None, alias="from")  # `from` is a Python keyword
    to: Any = None


class ProspectCreated(Payload):
    prospect_id: uuid.UUID
    email: str
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    status: str
    source: str | None = None
    owner_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None


class ProspectUpdated(Payload):
    prospect_id: uuid.UUID
    account_id: uuid.UUID | None = None
    actor_team_id: uuid.UUID | None = None
    changes: dict[str, Change]


class ProspectQualified(Payload):
    prospect_id: uuid.UUID
    account_id: uuid.UUID | None = None
    previous_status: str | None = None
    status: str


class DealCreated(Payload):
    deal_id: uuid.UUID
    name: str
    stage: str
    amount: float | None = None
    currency: str | None = None
    owner_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None


class DealStageChanged(Payload):
    deal_id: uuid.UUID
    from_stage: str
    to_stage: str
    amount: float | None = None
    team_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None


class DealClosed(Payload):
    deal_id: uuid.UUID
    stage: str
    amount: float | None = None
    closed_at: datetime | None = None
    reason: str | None = None
    account_id: uuid.UUID | None = None


class EmailEvent(Payload):
    """One shape for an email's life events; `detail` holds what the event adds (url, bounce type, reason)."""

    email_id: uuid.UUID
    prospect_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    cadence_id: uuid.UUID | None = None
    enrollment_id: uuid.UUID | None = None
    subject: str | None = None
    to_email: str | None = None
    first: bool = True
    detail: dict[str, Any] = {}


class EmailUnsubscribed(Payload):
    """`first` is false when the address was already suppressed or the same unsubscribe came again."""

    address: str
    prospect_id: uuid.UUID | None = None
    email_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    cadence_id: uuid.UUID | None = None
    source: str | None = None
    first: bool = True


class CallLogged(Payload):
    call_id: uuid.UUID
    activity_id: uuid.UUID
    prospect_id: uuid.UUID
    deal_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    direction: str
    disposition: str
    duration_seconds: int = 0
    outcome: str | None = None
    called_at: datetime


class MeetingScheduled(Payload):
    activity_id: uuid.UUID
    prospect_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    subject: str | None = None
    occurred_at: datetime | None = None


class EnrichmentCompleted(Payload):
    prospect_id: uuid.UUID
    fields: list[str]  # the fields written (empty: nobody knew anything new)
    sources: list[str]  # the providers whose values were kept
    providers_asked: list[str]  # vendors called this time (cache hits are not calls)
    cost_cents: int = 0


class TaskDueSoon(Payload):
    task_id: uuid.UUID
    assignee_id: uuid.UUID | None = None
    prospect_id: uuid.UUID | None = None
    type: str
    title: str | None = None
    due_at: datetime


class IntentSpikeDetected(Payload):
    prospect_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    score_date: str
    intent_score: float
    tier: str | None = None
    baseline_score: float | None = None


class ScoreThresholdCrossed(Payload):
    prospect_id: uuid.UUID
    team_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    display_name: str | None = None
    score: int
    previous_score: int | None = None
    threshold: int
    tier: str | None = None
    model_version: str | None = None
    top_factors: list[dict[str, Any]] = []


class BdrHandoffReady(Payload):
    handoff_id: uuid.UUID
    prospect_id: uuid.UUID
    to_user_id: uuid.UUID | None = None
    framework: str
    criteria_met: list[str]
    summary: str


class BillingPlanChanged(Payload):
    from_plan: str
    to_plan: str
    status: str | None = None  # the Stripe subscription status that moved it
    source: str  # stripe | operator


class BillingPaymentFailed(Payload):
    invoice_id: str  # Stripe's in_… id
    amount_due: int  # minor units
    currency: str
    attempt_count: int | None = None
    hosted_invoice_url: str | None = None


class TeamMemberInvited(Payload):
    invitation_id: uuid.UUID
    email: str
    role: str
    invited_by: uuid.UUID | None = None


class TeamMemberChanged(Payload):
    user_id: uuid.UUID
    email: str
    role: str
    previous_role: str | None = None  # team.role_changed


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    subject: str
    description: str
    payload: type[Payload]

    def schema(self) -> dict[str, Any]:
        return self.payload.model_json_schema(by_alias=True)


_TYPES = [
    EventType("prospect.created", 1, "prospect", "A prospect was added (API, CSV import or integration).",
              ProspectCreated),
    EventType("prospect.updated", 1, "prospect", "A prospect's fields changed; `changes` holds from/to per field.",
              ProspectUpdated),
    EventType("prospect.qualified", 1, "prospect", "A prospect's status became `qualified`.", ProspectQualified),
    EventType("deal.created", 1, "deal", "A deal was opened.", DealCreated),
    EventType("deal.stage_changed", 1, "deal", "A deal moved to another pipeline stage.", DealStageChanged),
    EventType("deal.won", 1, "deal", "A deal moved to closed-won.", DealClosed),
    EventType("deal.lost", 1, "deal", "A deal moved to closed-lost.", DealClosed),
    EventType("email.sent", 1, "email", "The provider accepted an email for delivery.", EmailEvent),
    EventType("email.delivered", 1, "email", "The recipient's server accepted the email.", EmailEvent),
    EventType("email.opened", 1, "email", "An email was opened (`first` is true for the first open only).",
              EmailEvent),
    EventType("email.clicked", 1, "email", "A tracked link was clicked (`detail.url`).", EmailEvent),
    EventType("email.replied", 1, "email", "The recipient replied to an email.", EmailEvent),
    EventType("email.bounced", 1, "email",
              "An email bounced (`detail.bounceType`: hard or soft; `detail.suppressed` when the address is now "
              "suppressed).", EmailEvent),
    EventType("email.spam_reported", 1, "email", "The recipient marked an email as spam.", EmailEvent),
    EventType("email.unsubscribed", 1, "prospect", "An address unsubscribed (link, provider or list header).",
              EmailUnsubscribed),
    EventType("call.logged", 1, "prospect", "A call with a prospect was logged (quick-log or a completed call task).",
              CallLogged),
    EventType("meeting.scheduled", 1, "activity", "A meeting was booked with a prospect.", MeetingScheduled),
    EventType("enrichment.completed", 1, "prospect",
              "A prospect was enriched by the provider waterfall (`fields` written, `sources`, `costCents`).",
              EnrichmentCompleted),
    EventType("task.due_soon", 1, "task", "A rep's open task falls due within the next hour.", TaskDueSoon),
    EventType("intent.spike_detected", 1, "prospect",
              "The intent pipeline found a spike in a prospect's buying signals (once per prospect and day).",
              IntentSpikeDetected),
    EventType("lead.score_threshold_crossed", 1, "prospect",
              "A lead score reached its team's threshold (from below, or on its first score).",
              ScoreThresholdCrossed),
    EventType("bdr.handoff_ready", 1, "prospect",
              "The BDR agent qualified a prospect and handed it to a human rep (`toUserId`) with a summary.",
              BdrHandoffReady),
    EventType("billing.plan_changed", 1, "organization",
              "The organization's plan changed (a Stripe subscription was created, changed or ended).",
              BillingPlanChanged),
    EventType("billing.payment_failed", 1, "organization",
              "Stripe could not collect an invoice's payment (`hostedInvoiceUrl` lets an admin pay it).",
              BillingPaymentFailed),
    EventType("team.member_invited", 1, "invitation", "An admin invited someone by e-mail (the token is never in "
              "the event).", TeamMemberInvited),
    EventType("team.member_joined", 1, "user", "An invitation was accepted: a new (or returning) member.",
              TeamMemberChanged),
    EventType("team.member_removed", 1, "user", "An admin removed a member (deactivated; their records stay).",
              TeamMemberChanged),
    EventType("team.role_changed", 1, "user", "A member's role changed (`previousRole` → `role`).",
              TeamMemberChanged),
]

CATALOGUE: dict[str, EventType] = {t.name: t for t in _TYPES}


class UnknownEventType(LookupError):
    pass


def event_type(name: str) -> EventType:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise UnknownEventType(f"{name!r} is not in the domain event catalogue") from None


def validate_payload(name: str, payload: Payload | dict[str, Any]) -> dict[str, Any]:
    """The payload as stored and delivered: validated against the catalogue, camelCase, JSON-ready."""
    model = event_type(name).payload
    if not isinstance(payload, model):
        payload = model.model_validate(payload if isinstance(payload, dict) else payload.model_dump())
    return payload.model_dump(mode="json", by_alias=True)

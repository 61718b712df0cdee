"""The BDR agent's configuration (validated data, stored as JSON) and the API's request/response models."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from serving.core.schemas import ApiModel, InputModel

Tier = Literal["low", "warm", "hot", "burning"]
Framework = Literal["BANT", "MEDDIC", "CHAMP"]

# each framework's criteria, in the order a summary lists them
FRAMEWORKS: dict[str, list[str]] = {
    "BANT": ["budget", "authority", "need", "timeline"],
    "MEDDIC": ["metrics", "economic_buyer", "decision_criteria", "decision_process", "identify_pain", "champion"],
    "CHAMP": ["challenges", "authority", "money", "prioritization"],
}
STEP_KINDS = ("research", "qualify", "personalize", "send")


class FitRules(InputModel):
    titles: list[str] = Field(default_factory=list, max_length=50)  # any one, as a case-insensitive substring
    industries: list[str] = Field(default_factory=list, max_length=50)
    countries: list[str] = Field(default_factory=list, max_length=100)


class Discovery(InputModel):
    enabled: bool = True  # off: the agent only follows up and answers the prospects it already has
    min_intent_tier: Tier = "hot"
    min_intent_score: int | None = Field(None, ge=0, le=100)  # and at least this intent score
    include_spikes: bool = True  # an intent spike in the last `spike_days` qualifies below the tier
    spike_days: int = Field(7, ge=1, le=90)
    min_lead_score: int | None = Field(None, ge=0, le=100)
    fit: FitRules = Field(default_factory=FitRules)
    batch_size: int = Field(25, ge=1, le=500)  # prospects picked per run
    max_new_per_day: int | None = Field(None, ge=0, le=10_000)  # first touches over the last 24 hours
    interval_minutes: int = Field(60, ge=15, le=1440)  # how often the schedule runs the agent


class RoutingRule(InputModel):
    countries: list[str] = Field(default_factory=list, max_length=100)
    titles: list[str] = Field(default_factory=list, max_length=50)
    user_id: uuid.UUID


class Caps(InputModel):
    per_day: int = Field(50, ge=0, le=10_000)
    per_prospect: int = Field(3, ge=0, le=50)
    min_spacing_hours: int = Field(72, ge=0, le=24 * 90)


class WorkingHours(InputModel):
    start_hour: int = Field(9, ge=0, le=23)
    end_hour: int = Field(17, ge=1, le=24)
    days: list[Annotated[int, Field(ge=0, le=6)]] = Field(default_factory=lambda: [0, 1, 2, 3, 4],
                                                        max_length=7)  # Monday = 0
    default_timezone: str = "UTC"  # when the prospect has none

    @model_validator(mode="after")
    def _ordered(self) -> WorkingHours:
        if self.end_hour <= self.start_hour:
            raise ValueError("endHour must be after startHour")
        if any(d < 0 or d > 6 for d in self.days):
            raise ValueError("days are 0 (Monday) to 6 (Sunday)")
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
        try:
            ZoneInfo(self.default_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.default_timezone!r}") from None
        return self


class Qualification(InputModel):
    framework: Framework = "BANT"
    required: list[str] = Field(default_factory=lambda: ["need"], max_length=10)
    # the share of the framework's criteria evidenced (0–100): a handoff needs the required ones and this much;
    # from `auto_qualify_threshold` on, the prospect's status becomes `qualified` even before a handoff
    handoff_threshold: int = Field(0, ge=0, le=100)
    auto_qualify_threshold: int | None = Field(None, ge=0, le=100)

    @model_validator(mode="after")
    def _known(self) -> Qualification:
        unknown = sorted(set(self.required) - set(FRAMEWORKS[self.framework]))
        if unknown:
            raise ValueError(f"{self.framework} has no criteria {unknown}; it has {FRAMEWORKS[self.framework]}")
        return self


class WorkflowStep(InputModel):
    kind: Literal["research", "qualify", "personalize", "send"]
    framework: Framework | None = None  # qualify
    tone: Literal["friendly", "formal", "direct", "casual"] | None = None  # personalize
    require_approval: bool | None = None  # send


class FollowUp(InputModel):
    # agent: the agent writes follow-ups itself to prospects who did not reply (within the caps and spacing);
    # cadence: after the first touch the prospect joins `cadence_id` (its steps, its reply pausing); off: none.
    # Either way a "not now" or out-of-office reply's date is followed up by the agent unless off.
    mode: Literal["agent", "cadence", "off"] = "agent"
    cadence_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _cadence(self) -> FollowUp:
        if self.mode == "cadence" and self.cadence_id is None:
            raise ValueError("followUp mode cadence needs a cadenceId")
        return self


class AgentSettings(InputModel):
    name: str = Field("BDR agent", min_length=1, max_length=100)
    # the agent writes e-mail; LinkedIn and phone touches are a human's (cadence tasks), so only e-mail is accepted
    channels: list[Literal["email"]] = Field(default_factory=lambda: ["email"], min_length=1, max_length=1)
    discovery: Discovery = Field(default_factory=Discovery)
    routing: list[RoutingRule] = Field(default_factory=list, max_length=100)
    caps: Caps = Field(default_factory=Caps)
    working_hours: WorkingHours = Field(default_factory=WorkingHours)
    confidence_threshold: float = Field(0.8, ge=0, le=1)
    qualification: Qualification = Field(default_factory=Qualification)
    tone: Literal["friendly", "formal", "direct", "casual"] = "friendly"
    workflow: list[WorkflowStep] = Field(default_factory=list, max_length=20)
    follow_up: FollowUp = Field(default_factory=FollowUp)

    @model_validator(mode="after")
    def _workflow(self) -> AgentSettings:
        kinds = [s.kind for s in self.workflow]
        if kinds and kinds[-1] != "send":
            raise ValueError("a custom workflow ends with a send step")
        if kinds.count("send") > 1:
            raise ValueError("a custom workflow has one send step")
        return self


class ConfigIn(InputModel):
    enabled: bool = False
    approval_mode: Literal["all", "first_touch", "auto_above_confidence"] = "all"
    settings: AgentSettings = Field(default_factory=AgentSettings)


class ConfigOut(ApiModel):
    enabled: bool
    approval_mode: str
    acting_user_id: uuid.UUID | None
    settings: dict[str, Any]
    updated_at: datetime | None
    # the same configuration in the seed's flat terms (serving/bdr/config_shapes.py)
    agent_name: str
    is_active: bool
    auto_approve_messages: bool
    require_human_review: bool
    max_daily_touches: int
    max_touches_per_prospect: int
    min_delay_between_touches_hours: int
    discovery_enabled: bool
    discovery_interval_minutes: int
    min_intent_score: int | None
    max_new_prospects_per_day: int | None
    preferred_channels: list[str]
    qualification_framework: str
    auto_qualify_threshold: int | None
    handoff_threshold: int
    working_hours: dict[str, Any]  # {timezone, startHour, endHour, days: 0 = Sunday … 6 = Saturday}


class TaskOut(ApiModel):
    id: uuid.UUID
    prospect_id: uuid.UUID
    step: str
    status: str
    result: dict[str, Any]
    created_at: datetime


class HandoffOut(ApiModel):
    id: uuid.UUID
    prospect_id: uuid.UUID
    to_user_id: uuid.UUID | None
    status: str
    summary: str
    framework: str
    qualification: dict[str, Any]
    conversation: list[Any]
    accepted_by: uuid.UUID | None
    accepted_at: datetime | None
    created_at: datetime


class ApprovalOut(ApiModel):
    id: uuid.UUID
    prospect_id: uuid.UUID
    draft_id: uuid.UUID
    purpose: str
    status: str
    reason: str | None
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    email_id: uuid.UUID | None
    variant_id: uuid.UUID | None
    created_at: datetime


class ApproveIn(InputModel):
    subject: str | None = Field(None, min_length=1, max_length=500)  # edit, then approve
    body: str | None = Field(None, min_length=1, max_length=20_000)


class RejectIn(InputModel):
    reason: str = Field(min_length=1, max_length=2000)


class DecisionOut(ApiModel):
    id: uuid.UUID
    prospect_id: uuid.UUID | None
    step: str
    inputs: dict[str, Any]
    options: list[Any]
    chosen: str
    reason: str
    outcome: dict[str, Any]
    created_at: datetime


class DayOut(ApiModel):
    day: date
    contacted: int
    replies: int
    handoffs: int
    meetings: int


class PerformanceOut(ApiModel):
    leads_contacted: int
    replies: int
    handoffs: int
    meetings_booked: int
    response_rate: float | None
    handoff_rate: float | None
    pending_approvals: int
    daily: list[DayOut] = []  # the last 30 days recorded by the agent's runs and the learning batch, oldest first


Tone = Literal["friendly", "formal", "direct", "casual"]


class VariantIn(InputModel):
    name: str = Field(min_length=1, max_length=100)
    tone: Tone | None = None
    instructions: str = Field("", max_length=2000)


class VariantUpdate(InputModel):
    status: Literal["active", "paused"] | None = None
    tone: Tone | None = None
    instructions: str | None = Field(None, max_length=2000)


class VariantOut(ApiModel):
    id: uuid.UUID
    name: str
    tone: str | None
    instructions: str
    status: str
    sends: int  # prospects e-mailed with it
    replies: int
    positive_replies: int  # interested, a question or a referral
    posterior_mean: float  # the expected positive-reply rate, Beta(1 + positive, 1 + others)
    probability_best: float | None  # among the active variants (None while paused)
    winner: bool
    winner_at: datetime | None
    created_at: datetime


class BacktestIn(InputModel):
    days: int = Field(90, ge=7, le=730)
    settings: AgentSettings | None = None  # the settings to test; the saved configuration's when absent


class BacktestOut(ApiModel):
    id: uuid.UUID
    created_at: datetime
    days: int
    settings_hash: str
    settings: dict[str, Any]
    report: dict[str, Any]
    created_by: uuid.UUID | None
    accepted_at: datetime | None
    accepted_by: uuid.UUID | None
    current: bool  # it tested the saved configuration's settings


class RunOut(ApiModel):
    execution_id: uuid.UUID
    discovered: list[uuid.UUID]
    skipped: int
    queued_for_approval: list[uuid.UUID]
    sent: list[uuid.UUID]
    held: list[dict[str, Any]]

"""The seed's flat configuration (`isActive`, `autoApproveMessages`, `maxDailyTouches`, `minIntentScore`,
`workingHours: {timezone, days: [1..5]}` …) as a second way to read and write the agent's configuration, so a
client written against the product's published example works unchanged.

`PUT /bdr/config` takes either shape. The nested one (`enabled`, `approvalMode`, `settings`) replaces the whole
configuration; the flat one changes only the fields it names, on top of what is saved. `GET /bdr/config` answers
with both. Two differences in meaning are converted here: the flat `workingHours.days` counts like JavaScript's
`Date.getDay()` (0 = Sunday, as in the seed's `[1, 2, 3, 4, 5] // Mon-Fri`) while the nested one counts from
Monday = 0; and a flat `minIntentScore` makes the intent score the discovery threshold (any tier at or above it),
where the nested settings start from an intent tier.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from serving.bdr.schemas import AgentSettings, ConfigIn, Framework
from serving.core.schemas import InputModel


class SeedHours(InputModel):
    timezone: str | None = None
    start_hour: int | None = Field(None, ge=0, le=23)
    end_hour: int | None = Field(None, ge=1, le=24)
    days: list[Annotated[int, Field(ge=0, le=6)]] | None = Field(None, max_length=7)  # 0 = Sunday … 6 = Saturday


class SeedConfigIn(InputModel):
    agent_name: str | None = Field(None, min_length=1, max_length=100)
    is_active: bool | None = None
    auto_approve_messages: bool | None = None
    require_human_review: bool | None = None
    max_daily_touches: int | None = Field(None, ge=0, le=10_000)
    max_touches_per_prospect: int | None = Field(None, ge=0, le=50)
    min_delay_between_touches_hours: int | None = Field(None, ge=0, le=24 * 90)
    discovery_enabled: bool | None = None
    discovery_interval_minutes: int | None = Field(None, ge=15, le=1440)
    min_intent_score: int | None = Field(None, ge=0, le=100)
    max_new_prospects_per_day: int | None = Field(None, ge=0, le=10_000)
    preferred_channels: list[Literal["email", "linkedin", "phone"]] | None = Field(None, min_length=1, max_length=3)
    qualification_framework: Framework | None = None
    auto_qualify_threshold: int | None = Field(None, ge=0, le=100)
    handoff_threshold: int | None = Field(None, ge=0, le=100)
    working_hours: SeedHours | None = None

    @field_validator("preferred_channels")
    @classmethod
    def _email_only(cls, channels: list[str] | None) -> list[str] | None:
        if channels is not None and set(channels) != {"email"}:
            raise ValueError("the agent sends e-mail only; LinkedIn and phone touches are a rep's cadence tasks, "
                             "so preferredChannels must be [\"email\"]")
        return channels


def apply(seed: SeedConfigIn, *, enabled: bool, approval_mode: str, settings: AgentSettings) -> ConfigIn:
    """The configuration after the flat fields `seed` names are applied to the saved one."""
    data = settings.model_dump(mode="python")
    caps, discovery, hours, qual = data["caps"], data["discovery"], data["working_hours"], data["qualification"]
    if seed.is_active is not None:
        enabled = seed.is_active
    if seed.require_human_review:
        approval_mode = "all"
    elif seed.auto_approve_messages is not None:
        approval_mode = "auto_above_confidence" if seed.auto_approve_messages else "all"
    elif seed.require_human_review is False and approval_mode == "all":
        approval_mode = "first_touch"
    for value, target, key in ((seed.max_daily_touches, caps, "per_day"),
                               (seed.max_touches_per_prospect, caps, "per_prospect"),
                               (seed.min_delay_between_touches_hours, caps, "min_spacing_hours"),
                               (seed.discovery_enabled, discovery, "enabled"),
                               (seed.discovery_interval_minutes, discovery, "interval_minutes"),
                               (seed.max_new_prospects_per_day, discovery, "max_new_per_day"),
                               (seed.auto_qualify_threshold, qual, "auto_qualify_threshold"),
                               (seed.handoff_threshold, qual, "handoff_threshold"),
                               (seed.agent_name, data, "name")):
        if value is not None:
            target[key] = value
    if seed.min_intent_score is not None:
        discovery["min_intent_score"], discovery["min_intent_tier"] = seed.min_intent_score, "low"
    if seed.qualification_framework is not None and seed.qualification_framework != qual["framework"]:
        qual["framework"] = seed.qualification_framework
        qual["required"] = [c for c in qual["required"] if c in _criteria(seed.qualification_framework)]
    if seed.working_hours is not None:
        wh = seed.working_hours
        if wh.timezone is not None:
            hours["default_timezone"] = wh.timezone
        if wh.start_hour is not None:
            hours["start_hour"] = wh.start_hour
        if wh.end_hour is not None:
            hours["end_hour"] = wh.end_hour
        if wh.days is not None:
            hours["days"] = sorted((d + 6) % 7 for d in set(wh.days))  # Sunday 0 → 6, Monday 1 → 0
    return ConfigIn(enabled=enabled, approval_mode=approval_mode, settings=AgentSettings.model_validate(data))


def _criteria(framework: str) -> list[str]:
    from serving.bdr.schemas import FRAMEWORKS

    return FRAMEWORKS[framework]


def flat(*, enabled: bool, approval_mode: str, settings: AgentSettings) -> dict[str, Any]:
    """The saved configuration in the seed's flat terms (snake_case; the response model camel-cases it)."""
    s = settings
    return {
        "agent_name": s.name, "is_active": enabled,
        "auto_approve_messages": approval_mode == "auto_above_confidence",
        "require_human_review": approval_mode == "all",
        "max_daily_touches": s.caps.per_day, "max_touches_per_prospect": s.caps.per_prospect,
        "min_delay_between_touches_hours": s.caps.min_spacing_hours,
        "discovery_enabled": s.discovery.enabled, "discovery_interval_minutes": s.discovery.interval_minutes,
        "min_intent_score": s.discovery.min_intent_score, "max_new_prospects_per_day": s.discovery.max_new_per_day,
        "preferred_channels": list(s.channels), "qualification_framework": s.qualification.framework,
        "auto_qualify_threshold": s.qualification.auto_qualify_threshold,
        "handoff_threshold": s.qualification.handoff_threshold,
        "working_hours": {"timezone": s.working_hours.default_timezone, "startHour": s.working_hours.start_hour,
                          "endHour": s.working_hours.end_hour,
                          "days": sorted((d + 1) % 7 for d in s.working_hours.days)},
    }

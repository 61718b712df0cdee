"""Deal health: THE deal-risk rule (pure functions, no I/O), computed live by the API.

Each rule that fires adds its impact to the risk (capped at 100); `score = 100 - risk`. Days are UTC
calendar days, so a deal's risk is the same all day. The nightly mart `fct_deal_health` computes the same
rule (`dbt_project/macros/deal_risk.sql` mirrors the constants below; `tests/pipelines/
test_deal_risk_parity.py` proves they agree), so its write-back never changes what the API shows. Only a
model's assessment (`ai_analysis.health`) replaces the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from serving.deals.models import CLOSED_STAGES, DealStage

# How long a deal may sit in a stage before it counts as stalled; later stages should move faster.
STAGE_THRESHOLD_DAYS = {
    DealStage.discovery: 21,
    DealStage.qualification: 21,
    DealStage.proposal: 30,
    DealStage.negotiation: 14,
}
INACTIVITY_DAYS = 14
MIN_CONTACTS = 2

IMPACT = {
    "stalled_in_stage": 25,
    "no_recent_activity": 25,
    "close_date_passed": 30,
    "single_threaded": 15,
    "no_next_step": 10,
}


@dataclass(frozen=True)
class DealSnapshot:
    """What the rules look at, gathered by the service."""

    stage: str
    created_at: datetime
    stage_changed_at: datetime | None
    close_date: date | None
    last_activity_at: datetime | None
    contact_count: int
    next_step: str | None


@dataclass(frozen=True)
class RiskReason:
    code: str
    message: str
    impact: int


@dataclass(frozen=True)
class DealHealth:
    source: str  # "rules" or "pipeline"
    risk_score: int
    reasons: list[RiskReason]
    closed: bool = False
    facts: dict[str, Any] = field(default_factory=dict)
    computed_at: datetime | None = None
    model_version: str | None = None

    @property
    def score(self) -> int:
        return 100 - self.risk_score

    @property
    def level(self) -> str:
        if self.closed:
            return "closed"
        if self.risk_score >= 60:
            return "critical"
        if self.risk_score >= 30:
            return "at_risk"
        return "healthy"


def _days_since(moment: datetime, today: date) -> int:
    # Calendar days, not 24-hour periods: the nightly mart only knows its as-of date, and a deal's risk
    # should not tick over at the hour it was created.
    return max(0, (today - moment.astimezone(UTC).date()).days)


def assess(snapshot: DealSnapshot, *, now: datetime | None = None) -> DealHealth:
    now = now or datetime.now(UTC)
    today = now.astimezone(UTC).date()
    stage = DealStage(snapshot.stage)
    in_stage_since = snapshot.stage_changed_at or snapshot.created_at
    days_in_stage = _days_since(in_stage_since, today)
    threshold = STAGE_THRESHOLD_DAYS.get(stage)
    # No activity ever: measure from creation, so a brand-new deal is not flagged on day one.
    quiet_since = snapshot.last_activity_at or snapshot.created_at
    days_quiet = _days_since(quiet_since, today)
    facts = {
        "daysInStage": days_in_stage,
        "stageThresholdDays": threshold,
        "lastActivityAt": snapshot.last_activity_at,
        "daysSinceLastActivity": days_quiet,
        "contactCount": snapshot.contact_count,
        "closeDate": snapshot.close_date,
        "nextStep": snapshot.next_step,
    }
    if stage in CLOSED_STAGES:
        return DealHealth(source="rules", risk_score=0, reasons=[], closed=True, facts=facts, computed_at=now)

    reasons = []
    if threshold is not None and days_in_stage > threshold:
        reasons.append(RiskReason("stalled_in_stage",
                                  f"{days_in_stage} days in {stage.value} (expected at most {threshold})",
                                  IMPACT["stalled_in_stage"]))
    if days_quiet > INACTIVITY_DAYS:
        message = (f"no activity in {days_quiet} days" if snapshot.last_activity_at
                   else f"no activity since the deal was created {days_quiet} days ago")
        reasons.append(RiskReason("no_recent_activity", message, IMPACT["no_recent_activity"]))
    if snapshot.close_date is not None and snapshot.close_date < today:
        overdue = (today - snapshot.close_date).days
        reasons.append(RiskReason("close_date_passed",
                                  f"close date {snapshot.close_date.isoformat()} passed {overdue} days ago",
                                  IMPACT["close_date_passed"]))
    if snapshot.contact_count < MIN_CONTACTS:
        message = ("no contacts on the deal" if snapshot.contact_count == 0
                   else "single-threaded: only one contact on the deal")
        reasons.append(RiskReason("single_threaded", message, IMPACT["single_threaded"]))
    if not (snapshot.next_step or "").strip():
        reasons.append(RiskReason("no_next_step", "no next step recorded", IMPACT["no_next_step"]))
    risk = min(100, sum(reason.impact for reason in reasons))
    return DealHealth(source="rules", risk_score=risk, reasons=reasons, facts=facts, computed_at=now)


def from_pipeline(risk_score: int | None, ai_analysis: dict[str, Any] | None) -> DealHealth | None:
    """A model's stored assessment, or None when the rule applies (the API then computes it live).

    `deals.risk_score` with `ai_analysis.risk` is the nightly write-back of this module's own rule: it is
    for sorting and dashboards, and a day old by evening, so the live rule (same numbers, with messages
    and facts) is shown instead.
    """
    analysis = ai_analysis or {}
    health = analysis.get("health") if isinstance(analysis.get("health"), dict) else analysis
    if "risk" in analysis and "health" not in analysis:
        return None
    stored = risk_score if risk_score is not None else health.get("riskScore")
    if not isinstance(stored, int | float) or isinstance(stored, bool):
        return None
    raw_reasons = health.get("reasons") or health.get("riskFactors") or []
    reasons = [_reason(item) for item in raw_reasons if isinstance(item, dict | str)]
    computed_at = health.get("computedAt") or health.get("analyzedAt")
    return DealHealth(
        source="pipeline",
        risk_score=max(0, min(100, round(stored))),
        reasons=reasons,
        computed_at=_parse_time(computed_at),
        model_version=health.get("modelVersion"),
    )


def _reason(item: dict[str, Any] | str) -> RiskReason:
    if isinstance(item, str):
        return RiskReason("pipeline", item, 0)
    impact = item.get("impact", item.get("weight", 0))
    return RiskReason(
        code=str(item.get("code") or item.get("factor") or "pipeline"),
        message=str(item.get("message") or item.get("description") or item.get("factor") or ""),
        impact=int(impact) if isinstance(impact, int | float) and not isinstance(impact, bool) else 0,
    )


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None

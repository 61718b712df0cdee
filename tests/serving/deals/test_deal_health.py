"""Pure deal-health rules: each risk reason, the cap, closed deals and pipeline-computed values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from serving.deals.health import (
    IMPACT,
    INACTIVITY_DAYS,
    STAGE_THRESHOLD_DAYS,
    DealSnapshot,
    assess,
    from_pipeline,
)
from serving.deals.models import DealStage

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)


def snapshot(**overrides) -> DealSnapshot:
    """A healthy open deal: fresh, active, multi-threaded, with a next step and a future close date."""
    values = {
        "stage": "proposal", "created_at": NOW - timedelta(days=3), "stage_changed_at": NOW - timedelta(days=2),
        "close_date": NOW.date() + timedelta(days=30), "last_activity_at": NOW - timedelta(days=1),
        "contact_count": 3, "next_step": "Send the order form",
    }
    return DealSnapshot(**{**values, **overrides})


def codes(health) -> list[str]:
    return [reason.code for reason in health.reasons]


def test_a_healthy_deal_has_no_risk():
    health = assess(snapshot(), now=NOW)
    assert health.source == "rules"
    assert health.risk_score == 0 and health.score == 100 and health.level == "healthy"
    assert health.reasons == []
    assert health.facts["daysInStage"] == 2 and health.facts["stageThresholdDays"] == 30


@pytest.mark.parametrize("stage", list(STAGE_THRESHOLD_DAYS))
def test_stalled_in_stage_uses_the_stage_threshold(stage):
    limit = STAGE_THRESHOLD_DAYS[stage]
    at_limit = assess(snapshot(stage=stage, stage_changed_at=NOW - timedelta(days=limit)), now=NOW)
    assert "stalled_in_stage" not in codes(at_limit)
    over = assess(snapshot(stage=stage, stage_changed_at=NOW - timedelta(days=limit + 1)), now=NOW)
    assert codes(over) == ["stalled_in_stage"]
    assert over.risk_score == IMPACT["stalled_in_stage"]


def test_stage_age_falls_back_to_creation():
    health = assess(snapshot(stage="negotiation", created_at=NOW - timedelta(days=40), stage_changed_at=None,
                             last_activity_at=NOW), now=NOW)
    assert codes(health) == ["stalled_in_stage"]


def test_no_recent_activity():
    quiet = assess(snapshot(last_activity_at=NOW - timedelta(days=INACTIVITY_DAYS + 1)), now=NOW)
    assert codes(quiet) == ["no_recent_activity"]
    assert "15 days" in quiet.reasons[0].message
    never = assess(snapshot(last_activity_at=None, created_at=NOW - timedelta(days=20),
                            stage_changed_at=NOW - timedelta(days=1)), now=NOW)
    assert codes(never) == ["no_recent_activity"]
    assert "since the deal was created" in never.reasons[0].message
    brand_new = assess(snapshot(last_activity_at=None, created_at=NOW - timedelta(hours=1)), now=NOW)
    assert "no_recent_activity" not in codes(brand_new)


def test_close_date_in_the_past_while_open():
    health = assess(snapshot(close_date=NOW.date() - timedelta(days=5)), now=NOW)
    assert codes(health) == ["close_date_passed"]
    assert health.risk_score == IMPACT["close_date_passed"]
    assert "close_date_passed" not in codes(assess(snapshot(close_date=NOW.date()), now=NOW))


@pytest.mark.parametrize(("count", "flagged"), [(0, True), (1, True), (2, False)])
def test_single_threaded(count, flagged):
    assert ("single_threaded" in codes(assess(snapshot(contact_count=count), now=NOW))) is flagged


@pytest.mark.parametrize("next_step", [None, "", "   "])
def test_no_next_step(next_step):
    assert codes(assess(snapshot(next_step=next_step), now=NOW)) == ["no_next_step"]


def test_risk_is_capped_at_100_and_critical():
    health = assess(snapshot(stage="negotiation", created_at=NOW - timedelta(days=200),
                             stage_changed_at=NOW - timedelta(days=100), last_activity_at=None,
                             close_date=date(2025, 1, 1), contact_count=0, next_step=None), now=NOW)
    assert set(codes(health)) == set(IMPACT)
    assert health.risk_score == 100 and health.score == 0 and health.level == "critical"


def test_levels():
    at_risk = assess(snapshot(close_date=NOW.date() - timedelta(days=1)), now=NOW)
    assert at_risk.risk_score == 30 and at_risk.level == "at_risk"
    assert assess(snapshot(next_step=None, contact_count=1), now=NOW).level == "healthy"


@pytest.mark.parametrize("stage", [DealStage.closed_won, DealStage.closed_lost])
def test_closed_deals_carry_no_risk(stage):
    health = assess(snapshot(stage=stage, close_date=date(2020, 1, 1), contact_count=0, next_step=None), now=NOW)
    assert health.risk_score == 0 and health.reasons == [] and health.level == "closed"


def test_pipeline_value_is_used_when_present():
    assert from_pipeline(None, {}) is None
    assert from_pipeline(None, {"summary": "text only"}) is None
    stored = from_pipeline(72, {"reasons": [{"code": "champion_left", "message": "Champion left", "impact": 40},
                                            "Budget frozen"],
                                "computedAt": "2025-06-01T00:00:00Z", "modelVersion": "deal-risk-3"})
    assert stored.source == "pipeline" and stored.risk_score == 72 and stored.score == 28
    assert [(r.code, r.impact) for r in stored.reasons] == [("champion_left", 40), ("pipeline", 0)]
    assert stored.computed_at == datetime(2025, 6, 1, tzinfo=UTC)
    assert stored.model_version == "deal-risk-3"
    nested = from_pipeline(None, {"health": {"riskScore": 130.4, "riskFactors": [{"factor": "no budget"}]}})
    assert nested.risk_score == 100 and nested.reasons[0].code == "no budget"


def test_days_are_utc_calendar_days():
    # Entered the stage at 23:30 fifteen days ago: fewer than 15 full days, but 15 calendar days, as the
    # nightly mart counts them for today's date; the time of day of "now" does not matter.
    late = datetime(2025, 5, 31, 23, 30, tzinfo=UTC)
    for now in (datetime(2025, 6, 15, 0, 5, tzinfo=UTC), datetime(2025, 6, 15, 23, 55, tzinfo=UTC)):
        health = assess(snapshot(stage="negotiation", created_at=late, stage_changed_at=late,
                                 last_activity_at=late), now=now)
        assert health.facts["daysInStage"] == 15 and health.facts["daysSinceLastActivity"] == 15
        assert codes(health) == ["stalled_in_stage", "no_recent_activity"]


def test_the_rules_own_write_back_does_not_replace_the_live_rule():
    # reverse-ETL stores this module's rule as computed last night; the API recomputes it live instead
    written = {"risk": {"score": 25, "level": "low", "reasons": ["no_next_step"], "as_of": "2025-06-14"}}
    assert from_pipeline(25, written) is None
    model = {**written, "health": {"riskScore": 70, "modelVersion": "deal-risk-1"}}
    assert from_pipeline(70, model).source == "pipeline"

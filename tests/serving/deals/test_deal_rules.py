"""Pure deal rules: stage probabilities, forecast bands and how a deal's position is resolved."""

from __future__ import annotations

import pytest

from serving.core.errors import ValidationFailed
from serving.deals.models import DealStage, ForecastCategory
from serving.deals.rules import UNSET, PipelinePosition, forecast_category_for, resolve_position

OPEN = DealStage.negotiation


@pytest.mark.parametrize(("probability", "category"), [
    (0, ForecastCategory.pipeline),
    (24, ForecastCategory.pipeline),
    (25, ForecastCategory.best_case),
    (74, ForecastCategory.best_case),
    (75, ForecastCategory.commit),
    (89, ForecastCategory.commit),
    (90, ForecastCategory.closed),
    (100, ForecastCategory.closed),
])
def test_forecast_bands_on_their_edges(probability, category):
    assert forecast_category_for(probability, OPEN) == category


def test_won_is_closed_and_lost_is_omitted_whatever_the_probability():
    assert forecast_category_for(0, DealStage.closed_won) == ForecastCategory.closed
    assert forecast_category_for(100, DealStage.closed_lost) == ForecastCategory.omitted


def test_new_deal_takes_the_stage_default_and_its_band():
    assert resolve_position(stage="proposal") == PipelinePosition(50, ForecastCategory.best_case, False)
    assert resolve_position(stage="discovery", probability=None) == PipelinePosition(10, "pipeline", False)


def test_sent_probability_wins_and_is_banded():
    assert resolve_position(stage="discovery", probability=80) == PipelinePosition(80, "commit", False)


def test_sent_category_is_manual_and_survives_later_changes():
    manual = resolve_position(stage="discovery", forecast_category="commit")
    assert manual == PipelinePosition(10, "commit", True)
    later = resolve_position(stage="proposal", current=manual, stage_changed=True)
    assert later == PipelinePosition(50, "commit", True)
    automatic = resolve_position(stage="proposal", forecast_category=None, current=later, stage_changed=False)
    assert automatic == PipelinePosition(50, "best_case", False)


def test_unchanged_stage_keeps_a_custom_probability():
    current = PipelinePosition(40, ForecastCategory.best_case, False)
    assert resolve_position(stage="qualification", current=current, stage_changed=False).probability == 40
    assert resolve_position(stage="proposal", current=current, stage_changed=True).probability == 50
    assert resolve_position(stage="qualification", probability=None, current=current,
                            stage_changed=False).probability == 25


def test_closing_fixes_probability_and_category():
    manual = PipelinePosition(60, ForecastCategory.commit, True)
    assert resolve_position(stage="closed_won", current=manual) == PipelinePosition(100, "closed", False)
    assert resolve_position(stage="closed_lost", current=manual) == PipelinePosition(0, "omitted", False)
    assert resolve_position(stage="closed_won", probability=100, forecast_category="closed").probability == 100


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"stage": "closed_won", "probability": 80}, "probability"),
    ({"stage": "closed_lost", "probability": 10}, "probability"),
    ({"stage": "closed_won", "forecast_category": "commit"}, "forecastCategory"),
])
def test_contradicting_a_closed_stage_is_refused(kwargs, field):
    with pytest.raises(ValidationFailed) as raised:
        resolve_position(**kwargs)
    assert raised.value.details["field"] == field


def test_unset_is_not_none():
    assert UNSET is not None and repr(UNSET) == "UNSET"

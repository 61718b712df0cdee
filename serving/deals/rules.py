"""Deal rules: default probability per stage and the seed's forecast-category bands.

Bands (seed 1.2), lower bound inclusive: pipeline [0, 25), best case [25, 75), commit [75, 90),
closed [90, 100] or won. A lost deal is omitted from the forecast.
"""

from __future__ import annotations

from serving.deals.models import DealStage, ForecastCategory

STAGE_PROBABILITY = {
    DealStage.discovery: 10,
    DealStage.qualification: 25,
    DealStage.proposal: 50,
    DealStage.negotiation: 75,
    DealStage.closed_won: 100,
    DealStage.closed_lost: 0,
}


def probability_for_stage(stage: str) -> int:
    return STAGE_PROBABILITY[DealStage(stage)]


def forecast_category_for(probability: int, stage: str) -> ForecastCategory:
    if stage == DealStage.closed_won:
        return ForecastCategory.closed
    if stage == DealStage.closed_lost:
        return ForecastCategory.omitted
    if probability >= 90:
        return ForecastCategory.closed
    if probability >= 75:
        return ForecastCategory.commit
    if probability >= 25:
        return ForecastCategory.best_case
    return ForecastCategory.pipeline
